//! Every state goes through SQLite as a bound parameter and comes back as itself; text no
//! state has is an error that names it.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;

use super::*;

fn connection() -> SqliteConnection {
    SqliteConnection::establish(":memory:").expect("in-memory SQLite")
}

/// Each state of `$state` as a bound parameter, read back as the enum and as text.
macro_rules! round_trips {
    ($connection:expr, $state:ty) => {
        for &state in <$state>::ALL {
            let back: $state = diesel::select(state.into_sql::<Text>()).get_result($connection).expect("round trip");
            assert_eq!(back, state);
            let text: String = diesel::select(state.into_sql::<Text>()).get_result($connection).expect("as text");
            assert_eq!(text, state.to_string(), "stored as its text");
            assert_eq!(text.parse::<$state>().expect("parse"), state);
        }
    };
}

#[test]
fn every_state_round_trips_through_sqlite_as_its_text() {
    let connection = &mut connection();
    round_trips!(connection, RunState);
    round_trips!(connection, BundleState);
    round_trips!(connection, FileState);
    round_trips!(connection, RetrievalState);
    round_trips!(connection, JobState);
    round_trips!(connection, RetrievalFileState);
    round_trips!(connection, InventoryState);
}

#[test]
fn the_texts_are_the_ones_catalogs_hold() {
    let texts: Vec<&str> = BundleState::ALL.iter().map(|state| state.as_str()).collect();
    assert_eq!(texts, ["uploading", "stored", "failed"]);
    assert_eq!(FileState::Archived.as_str(), "archived");
    assert_eq!(JobState::Expired.as_str(), "expired");
    assert_eq!(serde_json::to_string(&RunState::Incomplete).expect("json"), "\"incomplete\"");
    assert!(JobState::OPEN.iter().all(|state| state.is_open()));
    assert!(!JobState::Done.is_open() && !JobState::Failed.is_open());
}

#[test]
fn unknown_text_in_the_catalog_is_an_error_naming_it() {
    let mut connection = connection();
    let read = diesel::select(sql::<Text>("'shredded'")).get_result::<BundleState>(&mut connection);
    let error = crate::CatalogError::from(read.expect_err("unknown state")).to_string();
    assert!(error.contains("unknown bundle state `shredded`"), "{error}");
    assert!(error.contains("uploading, stored, failed"), "{error}");
    let parsed = "Archived".parse::<FileState>().expect_err("states are lowercase");
    assert_eq!(parsed.kind, "file");
    assert!(serde_json::from_str::<JobState>("\"lost\"").is_err());
}
