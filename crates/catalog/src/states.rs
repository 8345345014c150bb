//! The states of runs, bundles, files, retrievals, jobs and inventories. Each is a Rust enum
//! stored as the lowercase text it always was (catalogs written before these types read the
//! same), parsed back strictly: text the catalog does not know is an error that names it,
//! never a silent default. `Display`, `FromStr` and serde use the same text, so `--json`
//! output and queries such as `state:archived` keep their words.

use std::fmt;
use std::str::FromStr;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

/// Text that names no state of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} state `{text}` (expected one of: {expected})")]
pub struct UnknownState {
    pub kind: &'static str,
    pub text: String,
    pub expected: String,
}

/// Defines a state enum with its text, parsing, serde and diesel `Text` mapping.
macro_rules! text_state {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            /// Every state, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the catalog and shown to people.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            fn from_str(text: &str) -> Result<$name, UnknownState> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownState {
                        kind: $kind,
                        text: text.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl<DB> ToSql<Text, DB> for $name
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> FromSql<Text, DB> for $name
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<$name> {
                Ok(String::from_sql(bytes)?.parse()?)
            }
        }
    };
}

text_state!(
    /// Where an archive run stands.
    RunState, "run" {
        Running => "running",
        Complete => "complete",
        /// Finished with bundles that failed; the next run of the same roots resumes it.
        Incomplete => "incomplete",
    }
);

text_state!(
    /// Where a bundle stands. Only `stored` bundles hold files that count as archived.
    BundleState, "bundle" {
        /// Recorded before its first byte reaches the store.
        Uploading => "uploading",
        /// Confirmed by the store; its files are cataloged.
        Stored => "stored",
        Failed => "failed",
    }
);

text_state!(
    /// What a file row records about one version of a path.
    FileState, "file" {
        /// Its bytes are in a stored bundle.
        Archived => "archived",
        /// Stored, but it changed while it was read: not counted as archived.
        Changed => "changed",
        /// Not stored; the row's reason says why.
        Skipped => "skipped",
        /// Gone from the source since the version before.
        Deleted => "deleted",
    }
);

text_state!(
    /// Where a retrieval (one `esker retrieve`) stands.
    RetrievalState, "retrieval" {
        Open => "open",
        Done => "done",
        Failed => "failed",
    }
);

text_state!(
    /// Where a retrieval job (one bundle of a retrieval) stands.
    JobState, "job" {
        Requested => "requested",
        Restoring => "restoring",
        Ready => "ready",
        Downloading => "downloading",
        Done => "done",
        Failed => "failed",
        /// The restored copy expired before everything was downloaded: requested again.
        Expired => "expired",
    }
);

impl JobState {
    /// The states the poller still works on.
    pub const OPEN: [JobState; 5] =
        [JobState::Requested, JobState::Restoring, JobState::Ready, JobState::Downloading, JobState::Expired];

    pub fn is_open(self) -> bool {
        JobState::OPEN.contains(&self)
    }
}

text_state!(
    /// Where one file of a retrieval job stands.
    RetrievalFileState, "retrieval file" {
        Pending => "pending",
        Done => "done",
        Failed => "failed",
    }
);

text_state!(
    /// Where a vault inventory job stands.
    InventoryState, "inventory" {
        Requested => "requested",
        Done => "done",
        Failed => "failed",
    }
);

#[cfg(test)]
mod tests;
