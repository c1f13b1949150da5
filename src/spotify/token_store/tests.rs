use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("np-token-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("token.json")
}

fn token(s: &str) -> SecretString {
    s.to_owned().into()
}

fn stored(path: &Path) -> String {
    storage::read_token_file(path)
        .unwrap()
        .unwrap()
        .refresh_token
        .expose_secret()
        .to_owned()
}

#[tokio::test]
async fn a_file_changed_before_a_write_is_adopted_not_overwritten() {
    let path = scratch("changed");
    storage::write_token_file(&path, &token("ours"), None).unwrap();
    let mut store = TokenStore::open(Some(path.clone()));
    let owners: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
    storage::write_token_file(&path, &token("owners"), Some(owners)).unwrap();

    let adopted = store.keep_rotated(&token("ours-rotated"), None).await;
    let adopted = adopted.expect("the owner's token is returned");
    assert_eq!(adopted.refresh_token.expose_secret(), "owners");
    assert_eq!(adopted.obtained_at, Some(owners));
    assert_eq!(stored(&path), "owners");

    // Adopted means read: the rotation of the owner's token is written.
    assert!(
        store
            .keep_rotated(&token("owners-rotated"), Some(owners))
            .await
            .is_none()
    );
    assert_eq!(stored(&path), "owners-rotated");
    assert!(
        store.changed().await.is_none(),
        "its own write is no change"
    );
}

#[tokio::test]
async fn the_servers_own_writes_are_never_taken_for_a_change() {
    let path = scratch("own");
    let mut store = TokenStore::open(Some(path.clone()));
    assert!(store.keep_rotated(&token("first"), None).await.is_none());
    let at: DateTime<Utc> = "2026-11-01T00:00:00.123456Z".parse().unwrap();
    store.save_authorized(&token("second"), at).await.unwrap();
    assert!(
        store
            .keep_rotated(&token("third"), Some(at))
            .await
            .is_none()
    );
    assert_eq!(stored(&path), "third");
    assert!(store.sync(&token("third"), Some(at)).await.is_none());
    assert_eq!(store.state(), Some(FileState::Saved));
}

#[tokio::test]
async fn a_failed_write_waits_and_is_retried_by_sync() {
    let path = scratch("retry");
    let dir = path.parent().unwrap().to_owned();
    let mut store = TokenStore::open(Some(path.clone()));
    // A regular file where the directory should be: every write fails, as on a full disk.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"").unwrap();
    assert!(store.keep_rotated(&token("rotated"), None).await.is_none());
    assert_eq!(store.state(), Some(FileState::Unsaved));
    assert!(store.sync(&token("rotated"), None).await.is_none());
    assert_eq!(store.state(), Some(FileState::Unsaved));

    std::fs::remove_file(&dir).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    assert!(store.sync(&token("rotated"), None).await.is_none());
    assert_eq!(store.state(), Some(FileState::Saved));
    assert_eq!(stored(&path), "rotated");
}

#[test]
fn without_a_token_file_there_is_no_state() {
    assert_eq!(TokenStore::open(None).state(), None);
}

#[tokio::test]
async fn a_file_the_server_cannot_read_is_not_written_over() {
    let path = scratch("unreadable");
    storage::write_token_file(&path, &token("ours"), None).unwrap();
    let mut store = TokenStore::open(Some(path.clone()));
    let ours = std::fs::read(&path).unwrap();
    // A link to itself: reading fails (ELOOP) even for root, yet a rename would replace it.
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("token.json", &path).unwrap();

    assert!(store.keep_rotated(&token("rotated"), None).await.is_none());
    assert_eq!(store.state(), Some(FileState::Unsaved));
    assert!(store.sync(&token("rotated"), None).await.is_none());
    assert_eq!(store.state(), Some(FileState::Unsaved));
    assert!(
        std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink(),
        "not written over"
    );

    // Readable again, as the server last saw it: the waiting token is written.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, ours).unwrap();
    assert!(store.sync(&token("rotated"), None).await.is_none());
    assert_eq!(store.state(), Some(FileState::Saved));
    assert_eq!(stored(&path), "rotated");
}

#[tokio::test]
async fn a_file_that_does_not_parse_is_not_written_over() {
    let path = scratch("half-saved");
    storage::write_token_file(&path, &token("ours"), None).unwrap();
    let mut store = TokenStore::open(Some(path.clone()));
    // An editor half-way through saving the owner's renewal.
    std::fs::write(&path, b"{\"refresh_token\": \"own").unwrap();

    assert!(store.keep_rotated(&token("rotated"), None).await.is_none());
    assert_eq!(store.state(), Some(FileState::Unsaved));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"{\"refresh_token\": \"own",
        "not written over"
    );

    storage::write_token_file(&path, &token("owners"), None).unwrap();
    let adopted = store.sync(&token("rotated"), None).await;
    assert_eq!(adopted.unwrap().refresh_token.expose_secret(), "owners");
    assert_eq!(store.state(), Some(FileState::Saved));
    assert_eq!(stored(&path), "owners");
}

#[test]
fn a_write_whose_caller_went_away_is_finished_first_not_taken_for_a_change() {
    // One blocking thread, kept busy: the write queues behind it, so the caller is surely
    // still waiting for it when it goes away.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let path = scratch("dropped");
    let mut store = TokenStore::open(Some(path.clone()));
    let (release, busy) = std::sync::mpsc::channel::<()>();
    let blocker = runtime.spawn_blocking(move || busy.recv());
    runtime.block_on(async {
        {
            let rotated = token("rotated");
            let mut write = Box::pin(store.keep_rotated(&rotated, None));
            let waker = std::task::Waker::noop();
            let polled = std::future::Future::poll(
                write.as_mut(),
                &mut std::task::Context::from_waker(waker),
            );
            assert!(polled.is_pending(), "the write waits for the busy thread");
        }
        assert_eq!(store.state(), Some(FileState::Unsaved));
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();

        assert!(
            store.changed().await.is_none(),
            "its own write, finished after its caller went away, is no change"
        );
        assert!(store.sync(&token("rotated"), None).await.is_none());
        assert_eq!(store.state(), Some(FileState::Saved));
    });
    assert_eq!(stored(&path), "rotated");
}
