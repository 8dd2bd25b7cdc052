//! The `wire_enum!` macro: string enums whose serde form is exactly the protocol's names.
//!
//! Two shapes. A *closed* enum refuses any other name (serde's usual "unknown variant" error).
//! An *open* enum keeps any other name in an `Other(String)` variant, for the fields where the Go
//! agent reads a plain string and ignores values it does not know, so a hub that adds a value
//! later does not break parsing and the value survives a round trip.

/// Declares a wire enum; see the module documentation.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(#[$ometa:meta])*
            other $other:ident,
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            $(#[$ometa])*
            $other(String),
        }

        impl $name {
            /// Every known value, in the order the spec lists them.
            pub const KNOWN: &'static [$name] = &[$($name::$variant,)+];

            /// The name on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::$other(s) => s,
                }
            }

            /// Reads a name from the wire; a name this crate does not know is kept as is.
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $( $wire => $name::$variant, )+
                    other => $name::$other(other.to_owned()),
                }
            }

            /// Whether this is one of the values the spec lists.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::$other(_))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::from_wire(&s))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order the spec lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name on the wire.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }

            /// Reads a name from the wire; `None` for any other name.
            pub fn from_wire(s: &str) -> Option<Self> {
                match s {
                    $( $wire => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::from_wire(&s).ok_or_else(|| {
                    <D::Error as ::serde::de::Error>::unknown_variant(&s, &[$($wire,)+])
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
