//! Looking up names in LDAP / Active Directory (ldap3, synchronous): by `uidNumber`,
//! `gidNumber`, `sambaSID` or binary `objectSid`, with a connect and operation timeout.

use std::time::Duration;

use ldap3::{LdapConn, LdapConnSettings, Scope, SearchEntry};

use super::sid::Sid;

/// Default filter for a uid; `{id}` is replaced. Covers posixAccount (OpenLDAP) and AD users
/// with RFC 2307 attributes.
pub const DEFAULT_USER_FILTER: &str = "(&(|(objectClass=posixAccount)(objectClass=user))(uidNumber={id}))";
/// Default filter for a gid.
pub const DEFAULT_GROUP_FILTER: &str = "(&(|(objectClass=posixGroup)(objectClass=group))(gidNumber={id}))";
/// Default filter for a SID: Samba's text `sambaSID` or AD's binary `objectSid`.
pub const DEFAULT_SID_FILTER: &str = "(|(sambaSID={sid})(objectSid={sid_binary}))";
/// Attributes tried in order for the name.
pub const DEFAULT_NAME_ATTRIBUTES: [&str; 3] = ["sAMAccountName", "uid", "cn"];

/// Resolved `[ldap]` settings. `Debug` and `Serialize` mask the password.
#[derive(Clone, serde::Serialize)]
pub struct LdapSettings {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub starttls: bool,
    pub bind_dn: Option<String>,
    /// From `ESKER_LDAP_PASSWORD`; shown masked by `config show`.
    #[serde(serialize_with = "masked")]
    pub bind_password: Option<String>,
    /// Without `bind_password`: the password is this file's first line, read when
    /// connecting, so commands that never ask LDAP never read it.
    pub bind_password_file: Option<std::path::PathBuf>,
    pub base: String,
    #[serde(serialize_with = "seconds")]
    pub timeout: Duration,
    pub user_filter: String,
    pub group_filter: String,
    pub sid_filter: String,
    pub name_attributes: Vec<String>,
}

impl std::fmt::Debug for LdapSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LdapSettings")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &self.bind_password.as_ref().map(|_| "********"))
            .field("bind_password_file", &self.bind_password_file)
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl LdapSettings {
    /// The bind password: `bind_password`, else the first line of `bind_password_file`.
    fn password(&self) -> Result<Option<String>, String> {
        match (&self.bind_password, &self.bind_password_file) {
            (Some(password), _) => Ok(Some(password.clone())),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|text| Some(text.lines().next().unwrap_or_default().to_string()))
                .map_err(|failure| {
                    format!("cannot read bind_password_file {}: {}", file.display(), crate::error::io_message(&failure))
                }),
            (None, None) => Ok(None),
        }
    }
}

fn masked<S: serde::Serializer>(password: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    match password {
        Some(_) => serializer.serialize_str("********"),
        None => serializer.serialize_none(),
    }
}

fn seconds<S: serde::Serializer>(timeout: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{}s", timeout.as_secs()))
}

/// Why LDAP could not answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("LDAP {url}: {message}")]
pub struct LdapError {
    pub url: String,
    pub message: String,
    /// The server answered with an error (bad base, size limit…): the connection is fine,
    /// other lookups may still succeed. False for connection, TLS, bind and timeout failures.
    pub answered: bool,
}

/// What to look up.
pub(crate) enum LdapQuery<'a> {
    Uid(u32),
    Gid(u32),
    Sid(&'a Sid),
}

/// One bound connection.
pub(crate) struct LdapClient {
    settings: LdapSettings,
    connection: LdapConn,
}

/// Escapes bytes for an RFC 4515 filter value (`\xx` for every byte keeps binary exact).
fn escape_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("\\{byte:02x}")).collect()
}

fn escape_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '*' | '(' | ')' | '\\' | '\0' => escaped.push_str(&escape_bytes(character.to_string().as_bytes())),
            other => escaped.push(other),
        }
    }
    escaped
}

impl LdapClient {
    /// Connects (with the timeout) and binds.
    pub(crate) fn connect(settings: &LdapSettings) -> Result<LdapClient, LdapError> {
        let error = |message: String| LdapError { url: settings.url.clone(), message, answered: false };
        let connection_settings =
            LdapConnSettings::new().set_conn_timeout(settings.timeout).set_starttls(settings.starttls);
        let mut connection = LdapConn::with_settings(connection_settings, &settings.url)
            .map_err(|failure| error(format!("cannot connect: {failure}")))?;
        if let Some(bind_dn) = &settings.bind_dn {
            let password = settings.password().map_err(error)?;
            connection
                .with_timeout(settings.timeout)
                .simple_bind(bind_dn, password.as_deref().unwrap_or(""))
                .and_then(|result| result.success())
                .map_err(|failure| error(format!("bind as {bind_dn} failed: {failure}")))?;
        }
        Ok(LdapClient { settings: settings.clone(), connection })
    }

    /// The name of the entry matching `query`, or None when there is none.
    pub(crate) fn lookup(&mut self, query: LdapQuery<'_>) -> Result<Option<String>, LdapError> {
        let filter = match query {
            LdapQuery::Uid(id) => self.settings.user_filter.replace("{id}", &id.to_string()),
            LdapQuery::Gid(id) => self.settings.group_filter.replace("{id}", &id.to_string()),
            LdapQuery::Sid(sid) => self
                .settings
                .sid_filter
                .replace("{sid_binary}", &escape_bytes(&sid.to_bytes()))
                .replace("{sid}", &escape_text(&sid.to_string())),
        };
        let attributes: Vec<&str> = self.settings.name_attributes.iter().map(String::as_str).collect();
        let (entries, _) = self
            .connection
            .with_timeout(self.settings.timeout)
            .search(&self.settings.base, Scope::Subtree, &filter, attributes)
            .and_then(|result| result.success())
            .map_err(|failure| LdapError {
                url: self.settings.url.clone(),
                answered: matches!(failure, ldap3::LdapError::LdapResult { .. }),
                message: format!("search {filter}: {failure}"),
            })?;
        Ok(entries.into_iter().find_map(|entry| {
            let entry = SearchEntry::construct(entry);
            self.settings.name_attributes.iter().find_map(|attribute| {
                entry
                    .attrs
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
                    .and_then(|(_, values)| values.first().cloned())
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(password: Option<&str>, password_file: Option<std::path::PathBuf>) -> LdapSettings {
        LdapSettings {
            url: "ldap://127.0.0.1".into(),
            starttls: false,
            bind_dn: Some("cn=reader".into()),
            bind_password: password.map(str::to_string),
            bind_password_file: password_file,
            base: "dc=example".into(),
            timeout: Duration::from_secs(1),
            user_filter: DEFAULT_USER_FILTER.into(),
            group_filter: DEFAULT_GROUP_FILTER.into(),
            sid_filter: DEFAULT_SID_FILTER.into(),
            name_attributes: vec!["uid".into()],
        }
    }

    #[test]
    fn debug_output_masks_the_password() {
        let settings = settings(Some("hunter2"), None);
        let shown = format!("{settings:?} {}", serde_json::to_string(&settings).expect("json"));
        assert!(!shown.contains("hunter2") && shown.contains("********"), "{shown}");
    }

    #[test]
    fn the_password_file_is_read_when_asked_and_the_variable_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("ldap.pw");
        let mut settings = settings(None, Some(file.clone()));
        let missing = settings.password().expect_err("no file yet");
        assert!(missing.contains("bind_password_file") && missing.contains("ldap.pw"), "{missing}");
        std::fs::write(&file, "s3cret\nignored\n").expect("write");
        assert_eq!(settings.password(), Ok(Some("s3cret".into())));
        settings.bind_password = Some("from-env".into());
        assert_eq!(settings.password(), Ok(Some("from-env".into())));
    }

    #[test]
    fn filter_values_are_escaped() {
        assert_eq!(escape_bytes(&[0x01, 0x05, 0xff]), "\\01\\05\\ff");
        assert_eq!(escape_text("S-1-5-21-1"), "S-1-5-21-1");
        assert_eq!(escape_text("a*(b)\\"), "a\\2a\\28b\\29\\5c");
    }
}
