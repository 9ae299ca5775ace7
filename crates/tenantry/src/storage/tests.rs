//! Unit tests of [`Storage`] on a temporary directory.

use super::*;

fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<&'static [u8], std::io::Error>> {
    futures::stream::iter(parts.iter().map(|p| Ok(*p)).collect::<Vec<_>>())
}

fn p(s: &str) -> StoragePath {
    StoragePath::parse(s).unwrap()
}

fn store(max: u64) -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(dir.path().join("files"), max);
    (dir, storage)
}

#[tokio::test]
async fn put_get_list_delete_round_trip() {
    let (_d, s) = store(1024);
    let t = Uuid::new_v4();
    let put = s
        .put(t, &p("a/b.txt"), chunks(&[b"hel", b"lo"]))
        .await
        .unwrap();
    assert_eq!(
        put,
        Stored {
            size: 5,
            created: true
        }
    );
    let again = s.put(t, &p("a/b.txt"), chunks(&[b"bye"])).await.unwrap();
    assert!(!again.created);
    assert_eq!(s.get(t, &p("a/b.txt")).await.unwrap(), b"bye");
    let list = s.list(t).await.unwrap();
    assert_eq!(
        list,
        [FileEntry {
            path: p("a/b.txt"),
            size: 3
        }]
    );
    s.delete(t, &p("a/b.txt")).await.unwrap();
    assert!(matches!(
        s.get(t, &p("a/b.txt")).await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        s.delete(t, &p("a/b.txt")).await,
        Err(StorageError::NotFound)
    ));
}

#[tokio::test]
async fn tenants_with_the_same_path_see_different_files() {
    let (_d, s) = store(1024);
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    s.put(a, &p("x"), chunks(&[b"A"])).await.unwrap();
    assert!(matches!(
        s.get(b, &p("x")).await,
        Err(StorageError::NotFound)
    ));
    assert!(s.list(b).await.unwrap().is_empty());
}

#[tokio::test]
async fn oversize_upload_is_refused_and_leaves_no_file() {
    let (_d, s) = store(4);
    let t = Uuid::new_v4();
    let e = s
        .put(t, &p("big"), chunks(&[b"abc", b"de"]))
        .await
        .unwrap_err();
    assert!(matches!(e, StorageError::TooLarge { limit: 4 }), "{e}");
    let left: Vec<_> = std::fs::read_dir(s.tenant_dir(t)).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn failed_upload_keeps_the_previous_file() {
    let (_d, s) = store(1024);
    let t = Uuid::new_v4();
    s.put(t, &p("f"), chunks(&[b"old"])).await.unwrap();
    let broken = futures::stream::iter(vec![
        Ok(&b"new"[..]),
        Err(std::io::Error::other("client went away")),
    ]);
    let e = s.put(t, &p("f"), broken).await.unwrap_err();
    assert!(matches!(e, StorageError::Upload(_)), "{e}");
    assert_eq!(s.get(t, &p("f")).await.unwrap(), b"old");
    assert_eq!(std::fs::read_dir(s.tenant_dir(t)).unwrap().count(), 1);
}

#[cfg(unix)]
#[tokio::test]
async fn links_pointing_outside_the_tenant_directory_are_refused() {
    let (d, s) = store(1024);
    let t = Uuid::new_v4();
    let outside = d.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "s").unwrap();
    std::fs::create_dir_all(s.tenant_dir(t)).unwrap();
    std::os::unix::fs::symlink(&outside, s.tenant_dir(t).join("dir")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), s.tenant_dir(t).join("file")).unwrap();
    for path in ["dir/secret", "file"] {
        let e = s.get(t, &p(path)).await.unwrap_err();
        assert!(matches!(e, StorageError::InvalidPath(_)), "{path}: {e}");
        let e = s.delete(t, &p(path)).await.unwrap_err();
        assert!(matches!(e, StorageError::InvalidPath(_)), "{path}: {e}");
    }
    let e = s.put(t, &p("dir/new"), chunks(&[b"x"])).await.unwrap_err();
    assert!(matches!(e, StorageError::InvalidPath(_)), "{e}");
    let e = s.put(t, &p("file"), chunks(&[b"x"])).await.unwrap_err();
    assert!(matches!(e, StorageError::InvalidPath(_)), "{e}");
    assert!(!outside.join("new").exists());
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "s"
    );
    assert!(s.list(t).await.unwrap().is_empty());
}

#[tokio::test]
async fn removing_a_tenant_directory_counts_its_files_and_leaves_other_tenants_alone() {
    let (_d, s) = store(1024);
    let (gone, kept) = (Uuid::new_v4(), Uuid::new_v4());
    s.put(gone, &p("a.txt"), chunks(&[b"hello"])).await.unwrap();
    s.put(gone, &p("docs/b.txt"), chunks(&[b"abc"]))
        .await
        .unwrap();
    s.put(kept, &p("a.txt"), chunks(&[b"mine"])).await.unwrap();
    let removed = s.remove_tenant_dir(gone).await.unwrap();
    assert_eq!(removed, Removed { files: 2, bytes: 8 });
    assert!(!s.tenant_dir(gone).exists());
    assert_eq!(s.get(kept, &p("a.txt")).await.unwrap(), b"mine");
    let again = s.remove_tenant_dir(gone).await.unwrap();
    assert_eq!(again, Removed::default(), "a second removal finds nothing");
}

#[cfg(unix)]
#[tokio::test]
async fn removing_a_tenant_directory_does_not_follow_links_out_of_it() {
    let (d, s) = store(1024);
    let t = Uuid::new_v4();
    let outside = d.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "s").unwrap();
    std::fs::create_dir_all(s.tenant_dir(t)).unwrap();
    std::os::unix::fs::symlink(&outside, s.tenant_dir(t).join("dir")).unwrap();
    let removed = s.remove_tenant_dir(t).await.unwrap();
    assert_eq!(removed.files, 0, "a link is not one of the tenant's files");
    assert!(!s.tenant_dir(t).exists());
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "s"
    );
}
