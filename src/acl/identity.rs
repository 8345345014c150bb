//! Resolving principal keys (`uid:N`, `gid:N`, `sid:S-…`, NFSv4 names) to names: well-known
//! SIDs, local NSS (`getpwuid_r`/`getgrgid_r`, so sssd and winbind answer too), then LDAP.
//! Every key is looked up at most once per resolver; a failed LDAP connection is not retried
//! within the same resolver, so an unreachable server costs one timeout, not one per key.

use std::collections::HashMap;

use super::ldap::{LdapClient, LdapError, LdapQuery, LdapSettings};
use super::sid::Sid;

/// A parsed principal key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdentityKey {
    Uid(u32),
    Gid(u32),
    Sid(Sid),
    /// An NFSv4 `name@domain` (`user:` or `group:`): already a name.
    Named {
        group: bool,
        name: String,
    },
    Everyone,
}

impl IdentityKey {
    pub fn parse(key: &str) -> Option<IdentityKey> {
        if key == "everyone" {
            return Some(IdentityKey::Everyone);
        }
        let (kind, value) = key.split_once(':')?;
        match kind {
            "uid" => value.parse().ok().map(IdentityKey::Uid),
            "gid" => value.parse().ok().map(IdentityKey::Gid),
            "sid" => Sid::parse_text(value).map(IdentityKey::Sid),
            "user" | "group" if !value.is_empty() => {
                Some(IdentityKey::Named { group: kind == "group", name: value.to_string() })
            }
            _ => None,
        }
    }
}

pub use esker_model::Resolution;

/// Counts of one resolver's work, for summaries.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ResolverReport {
    pub resolved: u64,
    pub unresolved: u64,
    pub ldap_lookups: u64,
    /// Connections attempted (one per resolver unless the first fails for good).
    pub ldap_connects: u64,
    /// The first LDAP failure, when LDAP could not be used.
    pub ldap_error: Option<String>,
}

/// Resolves keys with a cache; see the module docs for the order.
pub struct Resolver {
    ldap: Option<LdapSettings>,
    client: Option<LdapClient>,
    ldap_failed: Option<LdapError>,
    cache: HashMap<String, Resolution>,
    report: ResolverReport,
}

impl Resolver {
    pub fn new(ldap: Option<LdapSettings>) -> Resolver {
        Resolver { ldap, client: None, ldap_failed: None, cache: HashMap::new(), report: ResolverReport::default() }
    }

    pub fn report(&self) -> &ResolverReport {
        &self.report
    }

    /// Resolves one key (cached).
    pub fn resolve(&mut self, key: &str) -> Resolution {
        if let Some(found) = self.cache.get(key) {
            return found.clone();
        }
        let resolution = self.lookup(key);
        if resolution.name.is_some() {
            self.report.resolved += 1;
        } else {
            self.report.unresolved += 1;
        }
        self.cache.insert(key.to_string(), resolution.clone());
        resolution
    }

    fn lookup(&mut self, key: &str) -> Resolution {
        let found = |name: String, source: &'static str| Resolution {
            key: key.to_string(),
            name: Some(name),
            source,
            error: None,
        };
        let Some(parsed) = IdentityKey::parse(key) else {
            return Resolution {
                key: key.to_string(),
                name: None,
                source: "none",
                error: Some("not a principal key".into()),
            };
        };
        let query = match &parsed {
            IdentityKey::Everyone => return found("everyone".into(), "builtin"),
            IdentityKey::Named { name, .. } => {
                let short = name.split('@').next().unwrap_or(name);
                return found(short.to_string(), "nfs4");
            }
            IdentityKey::Uid(id) => {
                if let Ok(Some(user)) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(*id)) {
                    return found(user.name, "nss");
                }
                LdapQuery::Uid(*id)
            }
            IdentityKey::Gid(id) => {
                if let Ok(Some(group)) = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(*id)) {
                    return found(group.name, "nss");
                }
                LdapQuery::Gid(*id)
            }
            IdentityKey::Sid(sid) => {
                if let Some(name) = sid.well_known_name() {
                    return found(name.to_string(), "builtin");
                }
                LdapQuery::Sid(sid)
            }
        };
        match self.ldap_lookup(query) {
            Ok(Some(name)) => found(name, "ldap"),
            Ok(None) => Resolution { key: key.to_string(), name: None, source: "none", error: None },
            Err(error) => {
                Resolution { key: key.to_string(), name: None, source: "none", error: Some(error.to_string()) }
            }
        }
    }

    fn ldap_lookup(&mut self, query: LdapQuery<'_>) -> Result<Option<String>, LdapError> {
        let Some(settings) = &self.ldap else { return Ok(None) };
        if let Some(failed) = &self.ldap_failed {
            return Err(failed.clone());
        }
        if self.client.is_none() {
            self.report.ldap_connects += 1;
            match LdapClient::connect(settings) {
                Ok(client) => self.client = Some(client),
                Err(error) => return Err(self.fail(error)),
            }
        }
        self.report.ldap_lookups += 1;
        let Some(client) = self.client.as_mut() else { return Ok(None) };
        client.lookup(query).map_err(|error| {
            if error.answered {
                // The server is there and said no to this search: keep asking it.
                tracing::warn!("{error}");
                self.report.ldap_error.get_or_insert_with(|| error.to_string());
                return error;
            }
            // A broken connection or a slow server: stop asking for the rest of this run.
            self.client = None;
            self.fail(error)
        })
    }

    fn fail(&mut self, error: LdapError) -> LdapError {
        tracing::warn!("{error}; names that need LDAP stay unresolved (`esker identities refresh` retries)");
        self.report.ldap_error.get_or_insert_with(|| error.to_string());
        self.ldap_failed = Some(error.clone());
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse() {
        assert_eq!(IdentityKey::parse("uid:1001"), Some(IdentityKey::Uid(1001)));
        assert_eq!(IdentityKey::parse("gid:0"), Some(IdentityKey::Gid(0)));
        assert!(matches!(IdentityKey::parse("sid:S-1-1-0"), Some(IdentityKey::Sid(_))));
        assert_eq!(
            IdentityKey::parse("group:staff@example.com"),
            Some(IdentityKey::Named { group: true, name: "staff@example.com".into() })
        );
        assert_eq!(IdentityKey::parse("uid:x"), None);
        assert_eq!(IdentityKey::parse("bogus"), None);
    }

    #[test]
    fn local_and_builtin_names_need_no_directory() {
        let mut resolver = Resolver::new(None);
        assert_eq!(resolver.resolve("uid:0").name.as_deref(), Some("root"));
        assert_eq!(resolver.resolve("gid:0").name.as_deref(), Some("root"));
        assert_eq!(resolver.resolve("sid:S-1-1-0").name.as_deref(), Some("Everyone"));
        assert_eq!(resolver.resolve("user:alice@example.com").name.as_deref(), Some("alice"));
        let unknown = resolver.resolve("uid:3999999");
        assert_eq!((unknown.name, unknown.source), (None, "none"));
        assert_eq!((resolver.report().resolved, resolver.report().unresolved), (4, 1));
    }

    fn settings_for(url: String, timeout: std::time::Duration) -> LdapSettings {
        LdapSettings {
            url,
            starttls: false,
            bind_dn: Some("cn=reader,dc=example,dc=org".into()),
            bind_password: Some("secret".into()),
            bind_password_file: None,
            base: "dc=example,dc=org".into(),
            timeout,
            user_filter: super::super::ldap::DEFAULT_USER_FILTER.into(),
            group_filter: super::super::ldap::DEFAULT_GROUP_FILTER.into(),
            sid_filter: super::super::ldap::DEFAULT_SID_FILTER.into(),
            name_attributes: vec!["uid".into()],
        }
    }

    #[test]
    fn a_directory_that_never_answers_costs_one_timeout() {
        // Accepts connections and never says a word: the bind times out once, and the
        // resolver stops asking for the rest of its life.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("addr");
        let url = format!("ldap://{address}");
        let silent = std::thread::spawn(move || {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept() {
                held.push(stream);
                if held.len() > 1 {
                    break;
                }
            }
            held
        });
        let mut resolver = Resolver::new(Some(settings_for(url, std::time::Duration::from_secs(1))));
        for id in 3_999_990..3_999_994 {
            let resolution = resolver.resolve(&format!("gid:{id}"));
            assert!(resolution.name.is_none());
            assert!(resolution.error.is_some(), "{resolution:?}");
        }
        let error = resolver.report().ldap_error.clone().unwrap_or_default();
        assert!(error.contains("bind"), "{error}");
        // Only one connection was ever made: this test's own is the second.
        let _probe = std::net::TcpStream::connect(address).expect("connect");
        assert_eq!(silent.join().expect("thread").len(), 2, "one connection from the resolver, one from this test");
    }

    #[test]
    fn an_unreachable_directory_costs_one_attempt() {
        // A loopback port nothing listens on: connection refused at once.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let settings = settings_for(format!("ldap://127.0.0.1:{port}"), std::time::Duration::from_secs(2));
        let mut resolver = Resolver::new(Some(settings));
        for id in 3_999_990..3_999_995 {
            let resolution = resolver.resolve(&format!("uid:{id}"));
            assert!(resolution.name.is_none());
            assert!(resolution.error.as_deref().unwrap_or_default().contains("cannot connect"), "{resolution:?}");
        }
        assert_eq!(resolver.report().ldap_connects, 1, "the first refusal disables LDAP");
        assert_eq!(resolver.report().ldap_lookups, 0);
        assert!(resolver.report().ldap_error.is_some());
    }
}
