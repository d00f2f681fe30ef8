//! LAC + PPP client emulator.
