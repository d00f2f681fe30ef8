//! The macro that turns the variable table (table.rs) into code, so each
//! startup-config variable is said once, in its row: the typed field of
//! `Config` with its doc comment, its default (`Config::with_dir`), how its
//! text is read into the field (`Config::assign`) and printed back
//! (`Config::get`), and its entry in `VARS` (l2tpns name and type, and the
//! flags ours / implemented / live that the daemon and the docs read).
//!
//! A row is
//! `FIELD[("l2tpns_Name")]: RUST_TYPE = DEFAULT, VAR_TYPE, CODEC[, FLAG...];`
//! where VAR_TYPE is a `VarType`, CODEC a value of values.rs that reads and
//! prints RUST_TYPE, and a FLAG is `ours`, `implemented` or `live` (a field
//! of `VarInfo`: a misspelt flag does not compile).

/// A variable's name: the field's, unless the row spells l2tpns's.
macro_rules! var_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident $name:literal) => {
        $name
    };
}

/// `startup_variables! { with_dir(DIR); ROWS }`: `DIR` names the
/// startup-config's directory in the defaults of file variables.
macro_rules! startup_variables {
    (
        with_dir($dir:ident);
        $(
            $(#[$attr:meta])*
            $field:ident $(($name:literal))? : $ty:ty = $default:expr,
                $vt:ident, $codec:expr $(, $flag:ident)* ;
        )*
    ) => {
        /// The whole startup-config: one typed field per variable (l2tpns
        /// code defaults), then the other statements. Strings use "" for
        /// "not set", as l2tpns does; addresses use `None` for 0.0.0.0 / `::`.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Config {
            $( $(#[$attr])* pub $field: $ty, )*

            /// Directory of the startup-config; relative file names are resolved here.
            pub config_dir: ::std::path::PathBuf,
            /// Plugins, BGP, access lists and forwards, in file order.
            pub statements: Vec<$crate::config::startup::Located>,
            /// Accepted-with-a-remark lines, for the log.
            pub warnings: Vec<$crate::config::startup::ConfigWarning>,
            /// The startup-config this came from (names it in messages).
            pub source: ::std::path::PathBuf,
            /// Variables the file set explicitly, with the line of their last
            /// `set` (0 when set from elsewhere, e.g. the CLI).
            pub(super) explicitly_set: ::std::collections::BTreeMap<&'static str, usize>,
            /// The line being parsed (for `explicitly_set`); 0 outside `parse`.
            pub(super) line: usize,
        }

        /// Every variable, in l2tpns's `config_values[]` order, ours last.
        // A row with every flag leaves nothing to `PLAIN`.
        #[allow(clippy::needless_update)]
        pub const VARS: &[$crate::config::vars::VarInfo] = &[
            $(
                $crate::config::vars::VarInfo {
                    name: var_name!($field $($name)?),
                    ty: $crate::config::vars::VarType::$vt,
                    $( $flag: true, )*
                    ..$crate::config::vars::VarInfo::PLAIN
                },
            )*
        ];

        impl Config {
            /// All defaults, with file variables relative to the directory.
            pub(super) fn with_dir($dir: &::std::path::Path) -> Self {
                Config {
                    $( $field: $default, )*
                    config_dir: $dir.to_path_buf(),
                    statements: Vec::new(),
                    warnings: Vec::new(),
                    source: $dir.join("startup-config"),
                    explicitly_set: ::std::collections::BTreeMap::new(),
                    line: 0,
                }
            }

            /// Parses `v` into the field of variable `name` (a name from
            /// `VARS`); returns an optional warning. On error the field is
            /// unchanged.
            pub(super) fn assign(
                &mut self,
                name: &'static str,
                v: &str,
            ) -> Result<Option<String>, String> {
                use $crate::config::startup::values::{Codec, Cx};
                let mut cx = Cx { name, dir: &self.config_dir, warning: None };
                $(
                    if name == var_name!($field $($name)?) {
                        self.$field = Codec::<$ty>::parse(&$codec, v, &mut cx)?;
                        return Ok(cx.warning);
                    }
                )*
                Err("variable has no storage (internal error)".into())
            }

            /// The value of a variable as `show running-config` prints it
            /// (strings unquoted); `set(name, get(name))` gives back the
            /// same value.
            pub fn get(&self, name: &str) -> Option<String> {
                use $crate::config::startup::values::Codec;
                $(
                    if name == var_name!($field $($name)?) {
                        return Some(Codec::<$ty>::show(&$codec, &self.$field));
                    }
                )*
                None
            }
        }
    };
}
