//! stripdomain: strips `@domain` from the user name before the login is
//! checked (RADIUS or the secrets file), as l2tpns 2.4.1 stripdomain.c.

use crate::plugin::{HookResult, Plugin, PluginApi, PreAuth};

pub struct StripDomain;

impl Plugin for StripDomain {
    fn name(&self) -> &'static str {
        "stripdomain"
    }

    fn pre_auth(&mut self, _api: &dyn PluginApi, auth: &mut PreAuth) -> HookResult {
        if !auth.continue_auth {
            return HookResult::Stop;
        }
        if let Some(at) = auth.username.find('@') {
            tracing::info!(
                "stripping off trailing domain name \"{}\"",
                &auth.username[at..]
            );
            auth.username.truncate(at);
        }
        HookResult::Continue
    }
}
