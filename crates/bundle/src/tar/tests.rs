//! Tests of the tar writer: headers, pax records, offsets, and round trips through the
//! `tar` crate.

use super::*;

fn header<'a>(path: &'a [u8], kind: MemberKind<'a>, size: u64) -> MemberHeader<'a> {
    MemberHeader { path, kind, size, mode: 0o644, uid: 1000, gid: 1000, mtime: 1_600_000_000, xattrs: &[] }
}

#[test]
fn octal_fields_are_zero_padded_and_nul_terminated() {
    for (width, value, expected) in [
        (8, 0o644, &b"0000644\0"[..]),
        (8, 0, b"0000000\0"),
        (12, 1_600_000_000, b"13727410000\0"),
        (12, 0o77777777777, b"77777777777\0"),
        (8, 0o123456712, b"3456712\0"),
    ] {
        let mut field = vec![b'x'; width];
        octal(&mut field, value);
        assert_eq!(field, expected, "{value:o} in {width} bytes");
    }
}

#[test]
fn pax_record_length_counts_itself() {
    let mut out = Vec::new();
    pax_record(&mut out, b"path", &[b'a'; 90]);
    let text = String::from_utf8(out.clone()).expect("utf8");
    let (length, _) = text.split_once(' ').expect("space");
    assert_eq!(length.parse::<usize>().expect("number"), out.len());
    for value_len in 0..300 {
        let mut out = Vec::new();
        pax_record(&mut out, b"path", &vec![b'x'; value_len]);
        let text = String::from_utf8(out.clone()).expect("utf8");
        let (length, _) = text.split_once(' ').expect("space");
        assert_eq!(length.parse::<usize>().expect("number"), out.len(), "value length {value_len}");
    }
}

/// A writer that gets an earlier writer's buffer writes the same bytes as one with a
/// fresh buffer: nothing of the earlier archive shows through, not in the padding, not
/// in data read straight into the buffer.
#[test]
fn a_reused_buffer_leaves_nothing_of_the_earlier_archive() {
    let small = || {
        let mut writer = TarWriter::new(Vec::new());
        writer.append(&header(b"a.txt", MemberKind::Regular, 0), b"abc").expect("append");
        writer.begin_member(&header(b"b.bin", MemberKind::Regular, 700)).expect("begin");
        let space = writer.data_space().expect("space");
        space[..700].fill(b'b');
        writer.commit_data(700).expect("commit");
        writer.finish().expect("finish")
    };
    let fresh = small();
    // Fill every buffer in the pool (one per writer alive at once) with other bytes.
    let mut big: Vec<TarWriter<Vec<u8>>> = (0..4).map(|_| TarWriter::new(Vec::new())).collect();
    for writer in &mut big {
        writer
            .begin_member(&header(b"x", MemberKind::Regular, esker_model::buffers::CHUNK as u64 - 512))
            .expect("begin");
        writer.write_data(&vec![0xAA; esker_model::buffers::CHUNK - 512]).expect("data");
    }
    drop(big);
    let reused = small();
    let leaked = reused.inner.iter().filter(|&&byte| byte == 0xAA).count();
    assert_eq!(leaked, 0, "bytes of the earlier archive in the new one");
    assert!(reused.inner == fresh.inner, "a reused buffer changed the archive");
    assert_eq!(reused.blake3, fresh.blake3);
}

#[test]
fn offsets_are_block_aligned_and_point_at_data() {
    let mut writer = TarWriter::new(Vec::new());
    let first = writer.append(&header(b"a/b.txt", MemberKind::Regular, 0), b"hello").expect("append");
    let long = vec![b'd'; 180];
    let mut long_path = long.clone();
    long_path.extend_from_slice(b"/file.bin");
    let second = writer.append(&header(&long_path, MemberKind::Regular, 0), b"world!").expect("append");
    let done = writer.finish().expect("finish");
    assert_eq!(first, MemberOffsets { header: 0, data: 512 });
    assert_eq!(&done.inner[first.data as usize..first.data as usize + 5], b"hello");
    assert_eq!(second.header, 1024);
    assert!(second.data > second.header + 512, "long path needs a pax header");
    assert_eq!(second.data % 512, 0);
    assert_eq!(&done.inner[second.data as usize..second.data as usize + 6], b"world!");
    assert_eq!(done.length as usize, done.inner.len());
    assert_eq!(done.length % 512, 0);
    assert_eq!(done.blake3, *blake3::hash(&done.inner).as_bytes());
}

#[test]
fn ustar_split_respects_field_limits() {
    let path = [vec![b'p'; 150], b"/".to_vec(), vec![b'n'; 100]].concat();
    let (prefix, name) = split_ustar_path(&path).expect("fits");
    assert_eq!(prefix.len(), 150);
    assert_eq!(name.len(), 100);
    assert!(split_ustar_path(&[b'x'; 101]).is_none());
    let too_long_name = [b"a/".to_vec(), vec![b'n'; 101]].concat();
    assert!(split_ustar_path(&too_long_name).is_none());
}

#[test]
fn refuses_excess_data() {
    let mut writer = TarWriter::new(Vec::new());
    writer.begin_member(&header(b"f", MemberKind::Regular, 3)).expect("header");
    assert!(writer.write_data(b"abcd").is_err());
    writer.write_data(b"abc").expect("data");
    assert_eq!(writer.remaining(), 0);
}

mod round_trip {
    use std::io::Read;

    use proptest::prelude::*;

    use super::super::*;

    /// Names of printable, space, non-UTF-8 and (optionally) newline bytes; up to ~400 bytes.
    fn path_strategy(newlines: bool) -> impl Strategy<Value = Vec<u8>> {
        let newline = if newlines { b'\n' } else { b' ' };
        let byte = prop_oneof![8 => 0x21u8..0x7f, 1 => Just(b' '), 1 => Just(newline), 2 => 0x80u8..=0xff];
        let component = proptest::collection::vec(byte, 1..60)
            .prop_filter("no '/' or '.' names", |part| !part.contains(&b'/') && part != b"." && part != b"..");
        proptest::collection::vec(component, 1..8).prop_map(|parts| parts.join(&b'/'))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn an_independent_reader_sees_our_paths_contents_and_offsets(
            // The tar crate splits pax records at newlines, so names here have none; GNU tar
            // checks names with newlines below.
            members in proptest::collection::vec((path_strategy(false), proptest::collection::vec(any::<u8>(), 0..2000), any::<bool>()), 1..6),
        ) {
            let mut writer = TarWriter::new(Vec::new());
            let mut offsets = Vec::new();
            // Symlink targets, like real ones, hold no NUL byte and are not empty.
            let members: Vec<(Vec<u8>, Vec<u8>, bool)> = members
                .into_iter()
                .map(|(path, mut data, symlink)| {
                    if symlink {
                        data.retain(|&byte| byte != 0 && byte != b'\n');
                        data.push(b'x');
                    }
                    (path, data, symlink)
                })
                .collect();
            for (index, (path, data, symlink)) in members.iter().enumerate() {
                let mut path = path.clone();
                path.extend_from_slice(format!("-{index}").as_bytes());
                let kind = if *symlink { MemberKind::Symlink { target: data.as_slice() } } else { MemberKind::Regular };
                let header = MemberHeader { path: &path, kind, size: 0, mode: 0o640, uid: 4_000_000, gid: 12, mtime: 1_700_000_000, xattrs: &[] };
                let data: &[u8] = if *symlink { b"" } else { data };
                offsets.push((path.clone(), writer.append(&header, data).expect("append")));
            }
            let finished = writer.finish().expect("finish");
            let bytes = finished.inner;
            let mut archive = tar::Archive::new(bytes.as_slice());
            let mut seen = 0;
            for (entry, (_, data, symlink)) in archive.entries().expect("entries").zip(members.iter()) {
                let mut entry = entry.expect("entry");
                let (expected_path, at) = &offsets[seen];
                let read_path = entry.path_bytes().into_owned();
                prop_assert_eq!(read_path.as_slice(), expected_path.as_slice());
                let pax_uid = entry
                    .pax_extensions()
                    .expect("pax")
                    .and_then(|mut records| records.find_map(|record| {
                        let record = record.ok()?;
                        (record.key().ok()? == "uid").then(|| record.value().ok().map(str::to_string)).flatten()
                    }));
                prop_assert_eq!(pax_uid.as_deref(), Some("4000000"));
                prop_assert_eq!(entry.raw_file_position(), at.data);
                if *symlink {
                    let target = entry.link_name_bytes().expect("link").into_owned();
                    prop_assert_eq!(target, data.clone());
                } else {
                    let mut content = Vec::new();
                    entry.read_to_end(&mut content).expect("read");
                    prop_assert_eq!(&content, data);
                    prop_assert_eq!(&bytes[at.data as usize..at.data as usize + data.len()], data.as_slice());
                }
                seen += 1;
            }
            prop_assert_eq!(seen, members.len());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn gnu_tar_extracts_odd_long_names_byte_identically(
            names in proptest::collection::vec((path_strategy(true), proptest::collection::vec(any::<u8>(), 0..700)), 1..5),
        ) {
            use std::os::unix::ffi::OsStrExt;
            let dir = tempfile::tempdir().expect("tempdir");
            let mut writer = TarWriter::new(Vec::new());
            let mut expected = Vec::new();
            for (index, (name, data)) in names.iter().enumerate() {
                let mut path = format!("m{index}/").into_bytes();
                path.extend_from_slice(name);
                let header = MemberHeader { path: &path, kind: MemberKind::Regular, size: 0, mode: 0o644, uid: 0, gid: 0, mtime: 0, xattrs: &[] };
                writer.append(&header, data).expect("append");
                expected.push((path, data.clone()));
            }
            let archive = dir.path().join("a.tar");
            std::fs::write(&archive, writer.finish().expect("finish").inner).expect("write");
            let out = dir.path().join("out");
            std::fs::create_dir(&out).expect("mkdir");
            let status = std::process::Command::new("tar").arg("-xf").arg(&archive).arg("-C").arg(&out).output().expect("tar");
            prop_assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
            prop_assert!(status.stderr.is_empty(), "tar warned: {}", String::from_utf8_lossy(&status.stderr));
            for (path, data) in expected {
                let file = out.join(std::ffi::OsStr::from_bytes(&path));
                prop_assert_eq!(std::fs::read(&file).expect("extracted file"), data);
            }
        }
    }
}
