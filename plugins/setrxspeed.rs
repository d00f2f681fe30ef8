//! setrxspeed: when the LAC gave a TX Connect Speed but no RX one, fill the
//! RX speed in from l2tpns 2.4.1 setrxspeed.c's table of ADSL rates
//! (256 -> 64, 512 -> 128, 1500 -> 256). Shown by `show session SID`.

use crate::plugin::{HookResult, Plugin, PluginApi, PostAuth};

pub struct SetRxSpeed;

impl Plugin for SetRxSpeed {
    fn name(&self) -> &'static str {
        "setrxspeed"
    }

    fn post_auth(&mut self, _api: &dyn PluginApi, auth: &mut PostAuth) -> HookResult {
        if auth.rx_connect_speed != 0 {
            return HookResult::Continue;
        }
        auth.rx_connect_speed = match auth.tx_connect_speed {
            256 => 64,
            512 => 128,
            1500 => 256,
            _ => 0,
        };
        HookResult::Continue
    }
}
