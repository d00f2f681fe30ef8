//! Result and error codes carried in the Result Code AVP (RFC 2661 §4.4.2):
//! StopCCN result codes, CDN result codes and the general error codes.

use super::message::ResultCode;

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident = $val:literal : $text:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum $name { $($var = $val,)* }
        impl $name {
            pub fn from_u16(v: u16) -> Option<Self> {
                match v { $($val => Some(Self::$var),)* _ => None }
            }
            pub fn code(self) -> u16 { self as u16 }
            /// The RFC's description.
            pub fn text(self) -> &'static str {
                match self { $(Self::$var => $text,)* }
            }
        }
        impl From<$name> for u16 {
            fn from(c: $name) -> u16 { c.code() }
        }
    };
}

code_enum! {
    /// Result codes of a StopCCN.
    StopCcnCode {
        ClearConnection = 1: "General request to clear control connection",
        GeneralError = 2: "General error, Error Code indicates the problem",
        ChannelExists = 3: "Control channel already exists",
        NotAuthorized = 4: "Requester is not authorized to establish a control channel",
        UnsupportedVersion = 5: "The protocol version of the requester is not supported",
        ShuttingDown = 6: "Requester is being shut down",
        FsmError = 7: "Finite State Machine error",
    }
}

code_enum! {
    /// Result codes of a CDN.
    CdnCode {
        LostCarrier = 1: "Call disconnected due to loss of carrier",
        GeneralError = 2: "Call disconnected for the reason indicated in error code",
        Administrative = 3: "Call disconnected for administrative reasons",
        TemporaryNoFacilities = 4: "Call failed due to lack of appropriate facilities being available (temporary condition)",
        PermanentNoFacilities = 5: "Call failed due to lack of appropriate facilities being available (permanent condition)",
        InvalidDestination = 6: "Invalid destination",
        NoCarrier = 7: "Call failed due to no carrier detected",
        Busy = 8: "Call failed due to detection of a busy signal",
        NoDialTone = 9: "Call failed due to lack of a dial tone",
        Timeout = 10: "Call was not established within time allotted by LAC",
        NoFraming = 11: "Call was connected but no appropriate framing was detected",
    }
}

code_enum! {
    /// General error codes (valid with result code 2).
    ErrorCode {
        NoError = 0: "No general error",
        NoControlConnection = 1: "No control connection exists yet for this LAC-LNS pair",
        BadLength = 2: "Length is wrong",
        BadValue = 3: "One of the field values was out of range or reserved field was non-zero",
        InsufficientResources = 4: "Insufficient resources to handle this operation now",
        InvalidSessionId = 5: "The Session ID is invalid in this context",
        VendorError = 6: "A generic vendor-specific error occurred in the LAC",
        TryAnother = 7: "Try another",
        UnknownMandatoryAvp = 8: "Session or tunnel was shutdown due to receipt of an unknown AVP with the M-bit set",
    }
}

/// What we put in the Result Code AVP of a message we send: a result
/// code of the message's own kind (`C`), with an optional general error
/// code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodedResult<C> {
    pub code: C,
    pub error: Option<ErrorCode>,
    pub message: Option<String>,
}

/// The Result Code of a StopCCN we send.
pub type StopCcnResult = CodedResult<StopCcnCode>;
/// The Result Code of a CDN we send.
pub type CdnResult = CodedResult<CdnCode>;

impl<C> CodedResult<C> {
    pub fn new(code: C) -> Self {
        CodedResult {
            code,
            error: None,
            message: None,
        }
    }
    pub fn with_error(mut self, e: ErrorCode) -> Self {
        self.error = Some(e);
        self
    }
    pub fn with_message(mut self, m: impl Into<String>) -> Self {
        self.message = Some(m.into());
        self
    }
}

impl<C: Into<u16> + Copy> CodedResult<C> {
    /// The Result Code AVP that says it.
    pub fn to_avp(&self) -> ResultCode {
        ResultCode {
            result: self.code.into(),
            error: self.error.map(ErrorCode::code),
            message: self.message.as_ref().map(|s| s.as_bytes().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(StopCcnCode::from_u16(4), Some(StopCcnCode::NotAuthorized));
        assert_eq!(StopCcnCode::from_u16(0), None);
        assert_eq!(CdnCode::from_u16(11).map(CdnCode::code), Some(11));
        assert_eq!(ErrorCode::UnknownMandatoryAvp.code(), 8);
        assert_eq!(ErrorCode::from_u16(9), None);
        assert!(CdnCode::Busy.text().contains("busy"));
    }
}
