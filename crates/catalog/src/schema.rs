//! diesel table definitions, matching `migrations/`.

diesel::table! {
    runs (id) {
        id -> BigInt,
        started_at -> BigInt,
        finished_at -> Nullable<BigInt>,
        state -> Text,
        host -> Text,
        roots -> Text,
        roots_key -> Text,
        store -> Text,
        description -> Text,
        tags -> Text,
        options -> Text,
        files_archived -> BigInt,
        bytes_archived -> BigInt,
        files_skipped -> BigInt,
        bundles -> BigInt,
    }
}

diesel::table! {
    bundles (id) {
        id -> BigInt,
        uuid -> Text,
        run_id -> BigInt,
        store -> Text,
        object_key -> Text,
        manifest_key -> Nullable<Text>,
        storage_class -> Nullable<Text>,
        state -> Text,
        file_count -> BigInt,
        data_bytes -> BigInt,
        bytes -> Nullable<BigInt>,
        sha256 -> Nullable<Text>,
        upload_id -> Nullable<Text>,
        error -> Nullable<Text>,
        created_at -> BigInt,
        stored_at -> Nullable<BigInt>,
        tree_hash -> Nullable<Text>,
        plan -> Nullable<Binary>,
        blake3 -> Nullable<Text>,
    }
}

diesel::table! {
    dirs (id) {
        id -> BigInt,
        path -> Binary,
        path_text -> Text,
        path_hash -> Binary,
    }
}

diesel::table! {
    files (id) {
        id -> BigInt,
        run_id -> BigInt,
        dir_id -> BigInt,
        name -> Binary,
        name_text -> Text,
        kind -> Text,
        size -> BigInt,
        mode -> Integer,
        uid -> BigInt,
        gid -> BigInt,
        mtime_ns -> BigInt,
        atime_ns -> BigInt,
        ctime_ns -> BigInt,
        inode -> BigInt,
        device -> BigInt,
        link_target -> Nullable<Binary>,
        blake3 -> Nullable<Text>,
        bundle_id -> Nullable<BigInt>,
        header_offset -> Nullable<BigInt>,
        data_offset -> Nullable<BigInt>,
        state -> Text,
        reason -> Nullable<Text>,
        origin_id -> Nullable<BigInt>,
        seq -> BigInt,
    }
}

diesel::table! {
    commit_sequence (id) {
        id -> Integer,
        value -> BigInt,
    }
}

diesel::table! {
    xattrs (file_id, name) {
        file_id -> BigInt,
        name -> Binary,
        name_text -> Text,
        value -> Binary,
    }
}

diesel::table! {
    principals (file_id, position) {
        file_id -> BigInt,
        position -> Integer,
        source -> Text,
        access -> Text,
        principal -> Text,
        rights -> Text,
        flags -> Text,
    }
}

diesel::table! {
    identities (principal) {
        principal -> Text,
        name -> Nullable<Text>,
        source -> Text,
        error -> Nullable<Text>,
        checked_at -> BigInt,
    }
}

diesel::joinable!(xattrs -> files (file_id));
diesel::joinable!(principals -> files (file_id));
diesel::joinable!(files -> dirs (dir_id));
diesel::joinable!(files -> runs (run_id));
diesel::joinable!(files -> bundles (bundle_id));
diesel::joinable!(bundles -> runs (run_id));

diesel::table! {
    retrievals (id) {
        id -> BigInt,
        created_at -> BigInt,
        selection -> Text,
        destination -> Binary,
        destination_text -> Text,
        tier -> Text,
        days -> Integer,
        overwrite -> Bool,
        state -> Text,
        files -> BigInt,
        bytes -> BigInt,
        estimate -> Text,
        finished_at -> Nullable<BigInt>,
        restore_xattrs -> Bool,
    }
}

diesel::table! {
    jobs (id) {
        id -> BigInt,
        retrieval_id -> BigInt,
        bundle_id -> BigInt,
        store -> Text,
        object_key -> Text,
        tier -> Text,
        range_start -> Nullable<BigInt>,
        range_end -> Nullable<BigInt>,
        backend_job_id -> Nullable<Text>,
        state -> Text,
        error -> Nullable<Text>,
        requested_at -> BigInt,
        ready_at -> Nullable<BigInt>,
        done_at -> Nullable<BigInt>,
        expires -> Nullable<Text>,
        updated_at -> BigInt,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<BigInt>,
        attempts -> Integer,
    }
}

diesel::table! {
    retrieval_files (retrieval_id, file_id) {
        retrieval_id -> BigInt,
        file_id -> BigInt,
        job_id -> BigInt,
        state -> Text,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    inventories (id) {
        id -> BigInt,
        store -> Text,
        vault -> Text,
        backend_job_id -> Text,
        state -> Text,
        error -> Nullable<Text>,
        requested_at -> BigInt,
        done_at -> Nullable<BigInt>,
        inventory_date -> Nullable<Text>,
        archives -> Nullable<BigInt>,
        output -> Nullable<Binary>,
        updated_at -> BigInt,
    }
}

diesel::joinable!(jobs -> retrievals (retrieval_id));
diesel::joinable!(jobs -> bundles (bundle_id));
diesel::joinable!(retrieval_files -> jobs (job_id));
diesel::joinable!(retrieval_files -> files (file_id));
diesel::allow_tables_to_appear_in_same_query!(
    retrievals,
    jobs,
    retrieval_files,
    runs,
    bundles,
    dirs,
    files,
    xattrs,
    principals,
    identities
);
