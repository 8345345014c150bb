//! Extended attributes, ACLs and identities: capture with `archive --xattrs`, search by
//! xattr, owner, group and principal, names from local NSS and the slapd fixture, LDAP down,
//! GNU tar and `retrieve --xattrs` restoring them.

use std::fs;
use std::path::Path;
use std::process::Command;

use esker::acl::{Sid, read_xattrs};
use serde_json::Value;

use crate::common::*;

fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    xattr_set(path, name, value).unwrap_or_else(|error| panic!("setting {name} on {}: {error}", path.display()));
}

fn xattr_set(path: &Path, name: &str, value: &[u8]) -> std::io::Result<()> {
    // Through the library's restore path, which is what `retrieve --xattrs` uses.
    let failures = esker::acl::restore_xattrs(
        path,
        &[esker::acl::Xattr { name: name.as_bytes().to_vec(), value: value.to_vec() }],
    );
    match failures.first() {
        Some(failure) => Err(std::io::Error::other(failure.error.clone())),
        None => Ok(()),
    }
}

fn setfacl(args: &[&str], path: &Path) {
    let status =
        Command::new("setfacl").args(args).arg(path).status().expect("setfacl (package acl) must be installed");
    assert!(status.success(), "setfacl {args:?} {}", path.display());
}

fn xattr_value(path: &Path, name: &str) -> Option<Vec<u8>> {
    read_xattrs(path, false)
        .expect("read xattrs")
        .into_iter()
        .find(|xattr| xattr.name == name.as_bytes())
        .map(|xattr| xattr.value)
}

fn require_root() {
    assert!(is_root(), "these tests set ACLs for other users and chown files: run them as root (scripts/test.sh)");
}

/// A tree with user xattrs, a POSIX access ACL and a folder with a default ACL.
fn acl_tree(env: &Env) {
    write(&env.src.join("apollo.txt"), b"mission plan\n");
    set_xattr(&env.src.join("apollo.txt"), "user.project", b"Apollo");
    set_xattr(&env.src.join("apollo.txt"), "user.comment", b"quarterly numbers for the board");
    write(&env.src.join("budget.ods"), b"numbers");
    setfacl(&["-m", "u:10001:r--,g:20001:rw-"], &env.src.join("budget.ods"));
    fs::create_dir(env.src.join("shared")).expect("mkdir");
    setfacl(&["-d", "-m", "u:10002:rwx"], &env.src.join("shared"));
    write(&env.src.join("shared/inside.txt"), b"inherits the default ACL");
    write(&env.src.join("plain.txt"), b"no attributes");
}

#[test]
fn xattrs_and_acls_are_cataloged_searchable_and_restored() {
    require_root();
    let env = Env::new();
    acl_tree(&env);
    let summary = env.archive_json(&["--xattrs"]);
    // apollo.txt, budget.ods, shared/ (default ACL) and shared/inside.txt (inherited ACL).
    assert_eq!(summary["files_with_xattrs"], 4, "{summary}");
    assert!(summary["acl_entries"].as_u64().expect("count") >= 8, "{summary}");

    assert_eq!(env.find_paths("xattr:user.project=apollo"), [env.src_path("apollo.txt")]);
    assert_eq!(env.find_paths("xattr:user.comment"), [env.src_path("apollo.txt")]);
    assert_eq!(env.find_paths("quarterly board"), [env.src_path("apollo.txt")], "xattr text is in the full text");
    assert_eq!(env.find_paths("principal:uid:10001"), [env.src_path("budget.ods")]);
    assert_eq!(env.find_paths("principal:gid:20001"), [env.src_path("budget.ods")]);
    assert_eq!(
        env.find_paths("xattr:system.posix_acl_default"),
        [env.src_path("shared")],
        "a folder with a default ACL is recorded for it"
    );
    assert!(env.find_paths("principal:uid:10002").contains(&env.src_path("shared")));
    // Owner by local name (the files belong to root) and by number.
    assert_eq!(env.find_paths("owner:root ext:ods"), [env.src_path("budget.ods")]);
    assert_eq!(env.find_paths("owner:0 name:plain"), [env.src_path("plain.txt")]);

    let budget = env.find("name:budget");
    assert_eq!(budget.len(), 1);
    assert_eq!(budget[0]["owner"], "root");
    let acl: Vec<(String, String, String)> = budget[0]["acl"]
        .as_array()
        .expect("acl entries")
        .iter()
        .map(|entry| {
            (
                entry["source"].as_str().unwrap_or_default().to_string(),
                entry["principal"].as_str().unwrap_or_default().to_string(),
                entry["rights"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(acl.contains(&("posix-access".into(), "uid:10001".into(), "r--".into())), "{acl:?}");
    assert!(acl.contains(&("posix-access".into(), "gid:20001".into(), "rw-".into())), "{acl:?}");

    // The bundle carries them as pax SCHILY.xattr records: GNU tar restores them.
    let out = tempfile::tempdir().expect("tempdir");
    for bundle in env.bundles() {
        let path = env.store_dir().join(bundle["key"].as_str().expect("key"));
        gnu_tar(&[
            "--xattrs",
            "--xattrs-include=*",
            "-xf",
            path.to_str().expect("utf8"),
            "-C",
            out.path().to_str().expect("utf8"),
        ]);
    }
    let copy = out.path().join(env.src.strip_prefix("/").expect("absolute"));
    assert_eq!(xattr_value(&copy.join("apollo.txt"), "user.project").as_deref(), Some(&b"Apollo"[..]));
    assert_eq!(
        xattr_value(&copy.join("budget.ods"), "system.posix_acl_access"),
        xattr_value(&env.src.join("budget.ods"), "system.posix_acl_access")
    );

    // retrieve --xattrs sets them back, byte for byte; without it they are left off.
    let with = env.dir.path().join("with");
    let output = env
        .esker()
        .args(["retrieve", "--xattrs", "--yes", &format!("in:{}", env.src.display()), "--to"])
        .arg(&with)
        .output()
        .expect("run");
    assert_success(&output);
    let restored = with.join(env.src.strip_prefix("/").expect("absolute"));
    for name in ["apollo.txt", "budget.ods", "shared", "shared/inside.txt"] {
        assert_eq!(
            read_xattrs(&restored.join(name), false).expect("read"),
            read_xattrs(&env.src.join(name), false).expect("read"),
            "{name}"
        );
    }
    let without = env.dir.path().join("without");
    let output = env
        .esker()
        .args(["retrieve", "--yes", &format!("in:{}", env.src.display()), "--to"])
        .arg(&without)
        .output()
        .expect("run");
    assert_success(&output);
    let plain = without.join(env.src.strip_prefix("/").expect("absolute")).join("apollo.txt");
    assert_eq!(fs::read(&plain).expect("restored"), b"mission plan\n");
    assert_eq!(xattr_value(&plain, "user.project"), None);
}

#[test]
fn without_the_flag_no_xattrs_are_read() {
    let env = Env::new();
    write(&env.src.join("tagged.txt"), b"x");
    set_xattr(&env.src.join("tagged.txt"), "user.project", b"apollo");
    let summary = env.archive_json(&[]);
    assert_eq!(summary["files_with_xattrs"], 0);
    assert!(env.find_paths("xattr:user.project").is_empty());
}

/// The slapd fixture's settings; fails loudly without it (like the PostgreSQL tests).
struct Directory {
    url: String,
    base: String,
    bind_dn: String,
    password: String,
    domain_sid: String,
}

fn directory() -> Directory {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "LDAP tests need the slapd fixture: run scripts/test.sh, or eval \"$(scripts/fixtures/ldap.sh start)\""
            )
        })
    };
    Directory {
        url: var("ESKER_TEST_LDAP_URL"),
        base: var("ESKER_TEST_LDAP_BASE"),
        bind_dn: var("ESKER_TEST_LDAP_BIND_DN"),
        password: var("ESKER_TEST_LDAP_PASSWORD"),
        domain_sid: var("ESKER_TEST_LDAP_DOMAIN_SID"),
    }
}

fn ldap_config(env: &Env, url: &str, directory: &Directory) {
    fs::create_dir_all(&env.home).expect("mkdir");
    write(&env.home.join("ldap.pw"), format!("{}\n", directory.password).as_bytes());
    let config = format!(
        "[ldap]\nurl = \"{url}\"\nbase = \"{}\"\nbind_dn = \"{}\"\nbind_password_file = \"ldap.pw\"\ntimeout = \"3s\"\n",
        directory.base, directory.bind_dn
    );
    write(&env.home.join("config.toml"), config.as_bytes());
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).expect("chown (tests run as root)");
}

/// A self-relative security descriptor (owner, group, one allow ACE) wrapped as Samba's
/// `security.NTACL` version 1.
fn samba_ntacl(owner: &Sid, group: &Sid, allowed: &Sid) -> Vec<u8> {
    let (owner, group, allowed) = (owner.to_bytes(), group.to_bytes(), allowed.to_bytes());
    let owner_offset = 20u32;
    let group_offset = owner_offset + owner.len() as u32;
    let dacl_offset = group_offset + group.len() as u32;
    let mut descriptor = vec![1, 0, 0x04, 0x80]; // revision 1, SE_DACL_PRESENT | SE_SELF_RELATIVE
    for offset in [owner_offset, group_offset, 0, dacl_offset] {
        descriptor.extend_from_slice(&offset.to_le_bytes());
    }
    descriptor.extend_from_slice(&owner);
    descriptor.extend_from_slice(&group);
    let ace_size = 8 + allowed.len();
    descriptor.extend_from_slice(&[2, 0]);
    descriptor.extend_from_slice(&((8 + ace_size) as u16).to_le_bytes());
    descriptor.extend_from_slice(&[1, 0, 0, 0]);
    descriptor.extend_from_slice(&[0, 0]);
    descriptor.extend_from_slice(&(ace_size as u16).to_le_bytes());
    descriptor.extend_from_slice(&0x0012_0089u32.to_le_bytes()); // read
    descriptor.extend_from_slice(&allowed);
    let mut ntacl = vec![1, 0, 1, 0, 0, 0, 2, 0]; // version 1, level 1, unique pointer
    ntacl.extend_from_slice(&descriptor);
    ntacl
}

#[test]
fn owners_groups_and_sids_are_named_through_ldap() {
    require_root();
    let directory = directory();
    let env = Env::new();
    ldap_config(&env, &directory.url, &directory);
    write(&env.src.join("alice.txt"), b"alice's notes");
    chown(&env.src.join("alice.txt"), 10001, 20001);
    write(&env.src.join("bob.txt"), b"bob's notes");
    chown(&env.src.join("bob.txt"), 10002, 20001);
    write(&env.src.join("smb/ledger.xlsx"), b"from a Samba share");
    let sid = |rid: u32| Sid::parse_text(&format!("{}-{rid}", directory.domain_sid)).expect("sid");
    set_xattr(&env.src.join("smb/ledger.xlsx"), "security.NTACL", &samba_ntacl(&sid(1003), &sid(2001), &sid(2002)));

    let summary = env.archive_json(&["--xattrs"]);
    assert_eq!(summary["identities"]["ldap_error"], Value::Null, "{summary}");
    assert_eq!(summary["identities"]["unresolved"], 0, "{summary}");

    assert_eq!(env.find_paths("owner:alice"), [env.src_path("alice.txt")]);
    assert_eq!(env.find_paths("owner:bob"), [env.src_path("bob.txt")]);
    // research is the primary group of both files, and the group SID of the Samba ACL.
    assert_eq!(
        env.find_paths("group:research"),
        [env.src_path("alice.txt"), env.src_path("bob.txt"), env.src_path("smb/ledger.xlsx")]
    );
    // The Samba ACL names carol (AD objectSid) as owner and Finance (objectSid) as reader;
    // the group SID resolves through sambaSID.
    assert_eq!(env.find_paths("owner:carol"), [env.src_path("smb/ledger.xlsx")]);
    assert_eq!(env.find_paths("principal:finance"), [env.src_path("smb/ledger.xlsx")]);
    assert_eq!(env.find_paths("group:research ext:xlsx"), [env.src_path("smb/ledger.xlsx")]);

    let output = env.run(&["find", "alice"]);
    assert_success(&output);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.lines().next().is_some_and(|header| header.contains("OWNER")), "{text}");
    assert!(text.contains(" alice "), "{text}");

    let output = env.run(&[
        "identities",
        "lookup",
        "--json",
        "uid:10001",
        "gid:20001",
        &format!("sid:{}", sid(1001)),
        &format!("sid:{}", sid(1003)),
        &format!("sid:{}", sid(2002)),
        "sid:S-1-1-0",
    ]);
    assert_success(&output);
    let found: Vec<(String, String)> = json_lines(&output.stdout)
        .iter()
        .map(|line| {
            (line["name"].as_str().unwrap_or("").to_string(), line["source"].as_str().unwrap_or("").to_string())
        })
        .collect();
    let expected = [("alice", "ldap"), ("research", "ldap"), ("alice", "ldap"), ("carol", "ldap"), ("finance", "ldap")];
    for (index, (name, source)) in expected.iter().enumerate() {
        assert_eq!((found[index].0.as_str(), found[index].1.as_str()), (*name, *source), "{found:?}");
    }
    assert_eq!(found[5], ("Everyone".to_string(), "builtin".to_string()));
    // The bind password never shows.
    let output = env.run(&["config", "show", "--json"]);
    assert_success(&output);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(!shown.contains(&directory.password) && shown.contains("********"), "{shown}");
    let output = env.run(&["identities", "lookup", "not-a-key"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("not-a-key"), "{}", stderr(&output));
}

#[test]
fn ldap_down_leaves_names_unresolved_until_refresh() {
    require_root();
    let directory = directory();
    let env = Env::new();
    // A loopback port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let down_url = format!("ldap://127.0.0.1:{}", closed.local_addr().expect("addr").port());
    drop(closed);
    ldap_config(&env, &down_url, &directory);
    for (index, uid) in [10001u32, 10002].into_iter().enumerate() {
        let path = env.src.join(format!("file{index}.txt"));
        write(&path, b"owned by someone in LDAP");
        chown(&path, uid, 20001);
    }
    let output = env.archive(&[]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("without a name"), "{text}");
    assert!(text.contains("identities refresh"), "{text}");
    assert!(env.find_paths("owner:alice").is_empty());
    assert_eq!(env.find_paths("owner:10001"), [env.src_path("file0.txt")], "the uid stays searchable");

    let output = env.run(&["identities", "list", "--unresolved", "--json"]);
    assert_success(&output);
    let unresolved: Vec<String> =
        json_lines(&output.stdout).iter().map(|row| row["principal"].as_str().unwrap_or("").to_string()).collect();
    assert!(unresolved.contains(&"uid:10001".to_string()), "{unresolved:?}");

    // The directory is back: refresh names them and rewrites the index entries.
    ldap_config(&env, &directory.url, &directory);
    let output = env.run(&["identities", "refresh", "--json"]);
    assert_success(&output);
    let report: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["ldap_error"], Value::Null, "{report}");
    assert_eq!(report["reindexed"], 2, "{report}");
    assert_eq!(env.find_paths("owner:alice"), [env.src_path("file0.txt")]);
    assert_eq!(env.find_paths("group:research"), [env.src_path("file0.txt"), env.src_path("file1.txt")]);
    let again = env.run(&["identities", "refresh", "--json"]);
    assert_success(&again);
    let report: Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(report["checked"], 0, "nothing left to look up: {report}");
}

#[test]
fn a_search_the_directory_refuses_does_not_turn_ldap_off() {
    let directory = directory();
    let settings = |base: &str| esker::acl::LdapSettings {
        url: directory.url.clone(),
        starttls: false,
        bind_dn: Some(directory.bind_dn.clone()),
        bind_password: Some(directory.password.clone()),
        bind_password_file: None,
        base: base.to_string(),
        timeout: std::time::Duration::from_secs(3),
        user_filter: esker::acl::ldap_defaults::DEFAULT_USER_FILTER.into(),
        group_filter: esker::acl::ldap_defaults::DEFAULT_GROUP_FILTER.into(),
        sid_filter: esker::acl::ldap_defaults::DEFAULT_SID_FILTER.into(),
        name_attributes: vec!["uid".into(), "cn".into()],
    };
    // A base that does not exist: the server answers noSuchObject to every search, and
    // every key is still asked (not one failure, then silence).
    let mut resolver = esker::acl::Resolver::new(Some(settings("ou=nowhere,dc=esker,dc=test")));
    for key in ["uid:10001", "uid:10002", "gid:20001"] {
        let resolution = resolver.resolve(key);
        assert_eq!(resolution.name, None);
        assert!(resolution.error.is_some(), "{resolution:?}");
    }
    assert_eq!(resolver.report().ldap_lookups, 3);
    // With the right base the same resolver settings find them.
    let mut resolver = esker::acl::Resolver::new(Some(settings(&directory.base)));
    assert_eq!(resolver.resolve("uid:10002").name.as_deref(), Some("bob"));
}
