//! Parsing a query for this catalog: the index's query language, with the values of
//! `kind:` and `state:` checked against the kinds and states the catalog records, so a
//! typo is a usage error naming what is allowed, not a search that finds nothing.

use esker_catalog::FileState;
use esker_index::{Filter, Query};
use esker_model::FileKind;

use crate::error::{Error, Result};

pub fn parse_query(text: &str) -> Result<Query> {
    let query = esker_index::parse_query(text)?;
    for filter in query.filters() {
        match filter {
            Filter::Kind(kind) if FileKind::parse(kind).is_none() => {
                let allowed: Vec<&str> = FileKind::ALL.iter().map(|kind| kind.as_str()).collect();
                return Err(unknown_value("kind", kind, &allowed));
            }
            Filter::State(state) if state.parse::<FileState>().is_err() => {
                let allowed: Vec<&str> = FileState::ALL.iter().map(|state| state.as_str()).collect();
                return Err(unknown_value("state", state, &allowed));
            }
            _ => {}
        }
    }
    Ok(query)
}

fn unknown_value(filter: &str, value: &str, allowed: &[&str]) -> Error {
    Error::Input(format!("unknown {filter} `{filter}:{value}` in the query; expected one of: {}", allowed.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kinds_and_states_name_the_allowed_values() {
        let message = parse_query("report kind:bogus").expect_err("bogus kind").to_string();
        assert!(message.contains("kind:bogus") && message.contains("symlink, fifo"), "{message}");
        let message = parse_query("(a OR -state:nope)").expect_err("bogus state").to_string();
        assert!(message.contains("state:nope") && message.contains("archived, changed"), "{message}");
        assert!(parse_query("kind:block-device state:deleted").is_ok());
    }
}
