//! Object-store remotes (S3 and compatibles, GCS, Azure, read-only HTTP) through the
//! `object_store` crate.
//!
//! The crate is async; git-ml's engine is threads. One small tokio runtime per process drives the
//! I/O and each worker thread blocks on its own request, so `-j N` means N requests in flight.
//! Retries with exponential backoff are the crate's (connection errors, 5xx, throttling), bounded
//! so that an unreachable endpoint fails in seconds, not minutes. Credentials come from the
//! machine-local config, else the environment, else an AWS profile; with none, S3 refuses to start
//! rather than wait on a cloud metadata endpoint that is not there.

use std::path::Path as FsPath;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};

use super::transport::{RemoteObject, Transport, corrupt};
use super::{Kind, RemoteSpec};
use crate::data::cache::{Cache, Verified};
use crate::error::{Error, RemoteErrorKind, Result, redact};
use crate::oid::Oid;

/// Files above this go up in parts, several at once.
const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
const PART_SIZE: usize = 16 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 4;
/// Objects from this size come down in ranges of [`PART_SIZE`], this many at once.
const RANGED_THRESHOLD: u64 = MULTIPART_THRESHOLD;
const RANGES_IN_FLIGHT: usize = 8;

/// The process's one async runtime (two threads): object stores and the GitHub API run on it.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("gitml-io")
            .enable_all()
            .build()
            .expect("start the I/O runtime")
    })
}

pub struct StoreTransport {
    name: String,
    url: String,
    store: Arc<dyn ObjectStore>,
    writable: bool,
}

/// How long a request may go without an answer or a byte before it is abandoned and retried:
/// `GITML_REMOTE_TIMEOUT` seconds, default 60 (what the AWS CLI waits).
///
/// The clients' read timeout counts from the start of a request, so it also bounds how long one
/// upload (a whole object up to 64 MiB, or one 16 MiB part) may take: 60 s is a 16 MiB part at
/// 280 KB/s. A shorter value detects a stalled server sooner and needs a faster uplink.
fn request_timeout() -> Duration {
    std::env::var("GITML_REMOTE_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(60))
}

fn client_options() -> ClientOptions {
    ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(600).max(request_timeout() * 2))
        .with_read_timeout(request_timeout())
        .with_pool_max_idle_per_host(64)
}

fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(8),
            base: 2.0,
        },
        max_retries: 4,
        // New attempts start only within 2.5 timeouts of the first: a request that stalls once
        // is retried, and a remote that keeps stalling ends the command after about three
        // timeouts (3 minutes by default), not one timeout per retry per object (the breaker in
        // transfer.rs stops the other transfers once one has given up).
        retry_timeout: request_timeout() * 5 / 2,
    }
}

impl StoreTransport {
    pub fn new(spec: &RemoteSpec, kind: Kind) -> Result<StoreTransport> {
        let cfg_err = |message: String, kind: RemoteErrorKind| Error::Remote {
            remote: spec.name.clone(),
            url: spec.url.clone(),
            message: redact(&message),
            kind,
        };
        let build_err = |e: object_store::Error| cfg_err(e.to_string(), RemoteErrorKind::Other);
        let (store, prefix, writable): (Arc<dyn ObjectStore>, String, bool) = match kind {
            Kind::S3 { bucket, prefix } => {
                use object_store::aws::AmazonS3Builder;
                let mut b = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_client_options(client_options())
                    .with_retry(retry());
                let endpoint = spec
                    .endpoint
                    .clone()
                    .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
                if let Some(e) = &endpoint {
                    b = b.with_endpoint(e);
                    if e.starts_with("http://") && spec.allow_http != Some(false) {
                        b = b.with_allow_http(true);
                    }
                }
                if let Some(a) = spec.allow_http {
                    b = b.with_allow_http(a);
                }
                // Path-style addressing unless asked otherwise: it is what self-hosted stores
                // (SeaweedFS, MinIO, Ceph) answer, and AWS still accepts it.
                b = b.with_virtual_hosted_style_request(spec.path_style == Some(false));
                let region = spec
                    .region
                    .clone()
                    .or_else(|| std::env::var("AWS_REGION").ok())
                    .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                    .unwrap_or_else(|| "us-east-1".into());
                b = b.with_region(region);
                if spec.anonymous {
                    b = b.with_skip_signature(true);
                } else if let (Some(id), Some(secret)) =
                    (&spec.access_key_id, &spec.secret_access_key)
                {
                    b = b.with_access_key_id(id).with_secret_access_key(secret);
                    if let Some(t) = &spec.session_token {
                        b = b.with_token(t);
                    }
                } else if std::env::var("AWS_ACCESS_KEY_ID").is_ok()
                    && std::env::var("AWS_SECRET_ACCESS_KEY").is_ok()
                {
                    // from_env picked them up.
                } else if let Some(creds) = profile_credentials(spec)? {
                    b = b
                        .with_access_key_id(creds.0)
                        .with_secret_access_key(creds.1);
                    if let Some(t) = creds.2 {
                        b = b.with_token(t);
                    }
                } else if std::env::var("AWS_WEB_IDENTITY_TOKEN_FILE").is_err()
                    && std::env::var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_err()
                    && std::env::var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_err()
                    && std::env::var("GITML_S3_INSTANCE_CREDENTIALS").is_err()
                {
                    return Err(cfg_err(
                        "no credentials found (environment, `.git/gitml/config.toml`, AWS profile)"
                            .into(),
                        RemoteErrorKind::NoCredentials,
                    ));
                }
                (Arc::new(b.build().map_err(build_err)?), prefix, true)
            }
            Kind::Gcs { bucket, prefix } => {
                use object_store::gcp::GoogleCloudStorageBuilder;
                let http = spec
                    .endpoint
                    .as_deref()
                    .is_some_and(|e| e.starts_with("http://"));
                let mut b = GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(bucket)
                    .with_client_options(
                        client_options().with_allow_http(spec.allow_http.unwrap_or(http)),
                    )
                    .with_retry(retry());
                if let Some(e) = &spec.endpoint {
                    b = b.with_base_url(e.trim_end_matches('/'));
                }
                if spec.anonymous {
                    b = b.with_skip_signature(true);
                } else if !gcs_credentials_configured() {
                    return Err(cfg_err(
                        "no credentials found (`GOOGLE_APPLICATION_CREDENTIALS`, `GOOGLE_SERVICE_ACCOUNT`, gcloud's application default credentials)".into(),
                        RemoteErrorKind::NoCredentials,
                    ));
                }
                (Arc::new(b.build().map_err(build_err)?), prefix, true)
            }
            Kind::Azure { container, prefix } => {
                use object_store::azure::MicrosoftAzureBuilder;
                let mut b = MicrosoftAzureBuilder::from_env()
                    .with_container_name(container)
                    .with_client_options(client_options())
                    .with_retry(retry());
                if let Some(e) = &spec.endpoint {
                    b = b.with_endpoint(e.trim_end_matches('/').to_string());
                    if e.starts_with("http://") && spec.allow_http != Some(false) {
                        b = b.with_allow_http(true);
                    }
                }
                if let Some(a) = &spec.account {
                    b = b.with_account(a);
                }
                if spec.anonymous {
                    b = b.with_skip_signature(true);
                } else if !azure_credentials_configured() {
                    return Err(cfg_err(
                        "no credentials found (`AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_TOKEN`, a service principal's `AZURE_CLIENT_SECRET`, a federated token)".into(),
                        RemoteErrorKind::NoCredentials,
                    ));
                }
                (Arc::new(b.build().map_err(build_err)?), prefix, true)
            }
            Kind::Http(url) => {
                use object_store::http::HttpBuilder;
                let b = HttpBuilder::new()
                    .with_url(url)
                    .with_client_options(
                        client_options().with_allow_http(spec.allow_http.unwrap_or(true)),
                    )
                    .with_retry(retry());
                (
                    Arc::new(b.build().map_err(build_err)?),
                    String::new(),
                    false,
                )
            }
            Kind::Dir(_) => unreachable!("directories use DirTransport"),
        };
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            store
        } else {
            Arc::new(PrefixStore::new(store, prefix.as_str()))
        };
        Ok(StoreTransport {
            name: spec.name.clone(),
            url: spec.url.clone(),
            store,
            writable,
        })
    }

    /// Download a large object in [`PART_SIZE`] ranges, [`RANGES_IN_FLIGHT`] at once, into a
    /// [`crate::data::cache::PartWriter`]: the first range from the response already open, the
    /// others with ranged GETs, each retried on its own when its body is cut off. The whole
    /// file is hashed before it is published.
    async fn get_ranged(
        &self,
        oid: &Oid,
        first: object_store::GetResult,
        cache: &Cache,
        progress: &dyn Fn(u64),
    ) -> Result<Verified> {
        use futures_util::TryStreamExt;
        let size = first.meta.size;
        let writer = cache.part_writer(size)?;
        let loc = location(oid);
        let head = async {
            let mut stream = first.into_stream();
            let mut at = 0u64;
            while at < PART_SIZE as u64 {
                let Some(chunk) = stream.next().await else {
                    break;
                };
                let chunk = chunk.map_err(|e| self.err(e))?;
                let take = chunk.len().min(PART_SIZE - at as usize);
                writer.write_at(at, &chunk[..take])?;
                progress(take as u64);
                at += take as u64;
            }
            if at < (PART_SIZE as u64).min(size) {
                // Cut off: fetch the first range again, on its own.
                let bytes = self
                    .get_part(&loc, at..(PART_SIZE as u64).min(size))
                    .await?;
                writer.write_at(at, &bytes)?;
                progress(bytes.len() as u64);
            }
            Ok::<(), Error>(())
        };
        let ranges: Vec<std::ops::Range<u64>> = (PART_SIZE as u64..size)
            .step_by(PART_SIZE)
            .map(|start| start..(start + PART_SIZE as u64).min(size))
            .collect();
        let rest = futures_util::stream::iter(ranges.into_iter().map(|r| {
            let loc = &loc;
            let writer = &writer;
            async move {
                let bytes = self.get_part(loc, r.clone()).await?;
                writer.write_at(r.start, &bytes)?;
                progress(bytes.len() as u64);
                Ok::<(), Error>(())
            }
        }))
        .buffer_unordered(RANGES_IN_FLIGHT)
        .try_collect::<Vec<()>>();
        futures_util::future::try_join(head, rest).await?;
        writer.finish(oid)
    }

    /// One range of an object, whole: a body cut off short is requested again (three tries;
    /// the client retries failed requests on its own as well).
    async fn get_part(&self, loc: &Path, range: std::ops::Range<u64>) -> Result<bytes::Bytes> {
        let want = (range.end - range.start) as usize;
        let mut last = None;
        for _ in 0..3 {
            match self.store.get_range(loc, range.clone()).await {
                Ok(b) if b.len() == want => return Ok(b),
                Ok(b) => {
                    last = Some(Error::Remote {
                        remote: self.name.clone(),
                        url: self.url.clone(),
                        message: format!(
                            "a range of `{loc}` came back with {} of {want} bytes",
                            b.len()
                        ),
                        kind: RemoteErrorKind::Other,
                    })
                }
                Err(e) => last = Some(self.err(e)),
            }
        }
        Err(last.expect("three tries"))
    }

    fn err(&self, e: object_store::Error) -> Error {
        let kind = classify(&e);
        Error::Remote {
            remote: self.name.clone(),
            url: self.url.clone(),
            message: redact(&concise(&e.to_string())),
            kind,
        }
    }

    fn read_only(&self) -> Error {
        Error::Remote {
            remote: self.name.clone(),
            url: self.url.clone(),
            message: "this remote is read-only".into(),
            kind: RemoteErrorKind::ReadOnly,
        }
    }
}

fn classify(e: &object_store::Error) -> RemoteErrorKind {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => RemoteErrorKind::MissingObject,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => RemoteErrorKind::Denied,
        _ => {
            let text = format!("{e:?} {e}");
            if text.contains("NoSuchBucket") || text.contains("ContainerNotFound") {
                RemoteErrorKind::NoSuchStore
            } else if [
                "status 403",
                "status: 403",
                "403 Forbidden",
                "StatusCode(403)",
            ]
            .iter()
            .any(|t| text.contains(t))
                || text.contains("InvalidAccessKeyId")
                || text.contains("SignatureDoesNotMatch")
                || text.contains("AccessDenied")
            {
                RemoteErrorKind::Denied
            } else if [
                "onnect",
                "dns error",
                "error sending request",
                "timed out",
                "eset by peer",
                "roken pipe",
                "ncomplete",
                "error decoding response body",
            ]
            .iter()
            .any(|t| text.contains(t))
            {
                RemoteErrorKind::Unreachable
            } else {
                RemoteErrorKind::Other
            }
        }
    }
}

/// One line from an object-store error: S3 puts a whole XML document in the message; keep its
/// `Code` and `Message` and drop the rest (request ids, the key again).
fn concise(text: &str) -> String {
    let Some(start) = text.find("<?xml") else {
        return text.trim().to_string();
    };
    let field = |tag: &str| {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let from = text.find(&open)? + open.len();
        let to = text[from..].find(&close)? + from;
        Some(text[from..to].to_string())
    };
    let head = text[..start].trim().trim_end_matches(':');
    match (field("Code"), field("Message")) {
        (Some(c), Some(m)) => format!("{head}: {c}: {m}"),
        (Some(c), None) => format!("{head}: {c}"),
        _ => head.to_string(),
    }
}

fn location(oid: &Oid) -> Path {
    Path::from(oid.object_path())
}

impl Transport for StoreTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    fn writable(&self) -> bool {
        self.writable
    }

    fn prefers_listing(&self) -> bool {
        // HTTP remotes cannot list.
        self.writable
    }

    fn has(&self, oid: &Oid) -> Result<bool> {
        match runtime().block_on(self.store.head(&location(oid))) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err(e)),
        }
    }

    fn put(&self, oid: &Oid, src: &FsPath, size: u64, progress: &dyn Fn(u64)) -> Result<()> {
        if !self.writable {
            return Err(self.read_only());
        }
        let loc = location(oid);
        if size <= MULTIPART_THRESHOLD {
            let bytes = fs_err::read(src)?;
            let actual = Oid::of(&bytes);
            if actual != *oid {
                return Err(Error::CorruptObject { oid: *oid, actual });
            }
            runtime()
                .block_on(self.store.put(&loc, PutPayload::from(bytes)))
                .map_err(|e| self.err(e))?;
            progress(size);
            return Ok(());
        }
        // Parts are read from the file as the upload makes room, so memory stays bounded at
        // PARTS_IN_FLIGHT parts; an error aborts the upload so no parts are left behind.
        use std::io::Read;
        let mut file = fs_err::File::open(src)?;
        runtime().block_on(async {
            let upload = self
                .store
                .put_multipart(&loc)
                .await
                .map_err(|e| self.err(e))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            let mut buf = vec![0u8; PART_SIZE];
            // Hashed as it is read: a damaged local object is aborted, never completed.
            let mut hasher = blake3::Hasher::new();
            loop {
                if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                    let _ = writer.abort().await;
                    return Err(self.err(e));
                }
                let mut filled = 0;
                while filled < buf.len() {
                    match file.read(&mut buf[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) => {
                            let _ = writer.abort().await;
                            return Err(e.into());
                        }
                    }
                }
                if filled == 0 {
                    break;
                }
                hasher.update(&buf[..filled]);
                writer.write(&buf[..filled]);
                progress(filled as u64);
            }
            let actual: Oid = hasher.finalize().into();
            if actual != *oid {
                let _ = writer.abort().await;
                return Err(Error::CorruptObject { oid: *oid, actual });
            }
            writer.finish().await.map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    fn get(&self, oid: &Oid, cache: &Cache, progress: &dyn Fn(u64)) -> Result<u64> {
        let loc = location(oid);
        let mut writer = cache.writer()?;
        let ranged = runtime().block_on(async {
            let result = self.store.get(&loc).await.map_err(|e| self.err(e))?;
            if result.meta.size >= RANGED_THRESHOLD {
                // A large object comes down in parallel ranges (as rclone's multi-thread
                // download does): one stream alone is bound by one connection's window.
                return self
                    .get_ranged(oid, result, cache, progress)
                    .await
                    .map(Some);
            }
            let mut stream = result.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.err(e))?;
                writer.write(&chunk)?;
                progress(chunk.len() as u64);
            }
            Ok::<Option<Verified>, Error>(None)
        })?;
        let verified = match ranged {
            Some(v) => v,
            None => writer.finish(oid)?,
        };
        match verified {
            Verified::Stored(n) => Ok(n),
            Verified::Mismatch(actual) => Err(corrupt(&self.name, oid, actual)),
        }
    }

    fn hash_of(&self, oid: &Oid) -> Result<Option<Oid>> {
        let loc = location(oid);
        runtime().block_on(async {
            let result = match self.store.get(&loc).await {
                Ok(r) => r,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(self.err(e)),
            };
            let mut stream = result.into_stream();
            let mut hasher = blake3::Hasher::new();
            while let Some(chunk) = stream.next().await {
                hasher.update(&chunk.map_err(|e| self.err(e))?);
            }
            Ok(Some(hasher.finalize().into()))
        })
    }

    fn list(&self) -> Result<Vec<RemoteObject>> {
        if !self.writable {
            return Err(self.read_only());
        }
        let prefix = Path::from("blake3");
        runtime().block_on(async {
            let mut out = Vec::new();
            let mut stream = self.store.list(Some(&prefix));
            while let Some(meta) = stream.next().await {
                let meta = meta.map_err(|e| self.err(e))?;
                let parts: Vec<_> = meta.location.parts().collect();
                if parts.len() != 3 {
                    continue;
                }
                let text = format!("blake3:{}{}", parts[1].as_ref(), parts[2].as_ref());
                let Ok(oid) = text.parse::<Oid>() else {
                    continue;
                };
                let secs = meta.last_modified.timestamp().max(0) as u64;
                out.push(RemoteObject {
                    oid,
                    size: meta.size,
                    modified: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
                });
            }
            Ok(out)
        })
    }

    fn delete(&self, oid: &Oid) -> Result<()> {
        if !self.writable {
            return Err(self.read_only());
        }
        match runtime().block_on(self.store.delete(&location(oid))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn put_named(&self, name: &str, bytes: &[u8]) -> Result<()> {
        if !self.writable {
            return Err(self.read_only());
        }
        runtime()
            .block_on(
                self.store
                    .put(&Path::from(name), PutPayload::from(bytes.to_vec())),
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn get_named(&self, name: &str) -> Result<Option<Vec<u8>>> {
        runtime().block_on(async {
            match self.store.get(&Path::from(name)).await {
                Ok(r) => Ok(Some(r.bytes().await.map_err(|e| self.err(e))?.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.err(e)),
            }
        })
    }

    fn delete_named(&self, name: &str) -> Result<()> {
        if !self.writable {
            return Err(self.read_only());
        }
        match runtime().block_on(self.store.delete(&Path::from(name))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn read_raw(&self, name: &str, sink: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<bool> {
        runtime().block_on(async {
            let result = match self.store.get(&Path::from(name)).await {
                Ok(r) => r,
                Err(object_store::Error::NotFound { .. }) => return Ok(false),
                Err(e) => return Err(self.err(e)),
            };
            let mut stream = result.into_stream();
            while let Some(chunk) = stream.next().await {
                sink(&chunk.map_err(|e| self.err(e))?)?;
            }
            Ok(true)
        })
    }

    fn check(&self) -> Result<()> {
        // One cheap request that needs working credentials and an existing bucket: a HEAD of an
        // object that cannot exist (HTTP servers answer 404 just the same).
        let probe = Path::from("blake3/.gitml-probe");
        if !self.writable {
            return match runtime().block_on(self.store.head(&probe)) {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(self.err(e)),
            };
        }
        // Object stores: a listing of a prefix that holds nothing. A HEAD answers a missing
        // bucket with a bare 404, the same as a missing object, and a push would then go ahead
        // (some servers create the bucket on the first PUT); a listing names the bucket's absence.
        let first = runtime().block_on(async { self.store.list(Some(&probe)).next().await });
        match first {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(object_store::Error::NotFound { .. })) => Err(Error::Remote {
                remote: self.name.clone(),
                url: self.url.clone(),
                message: "the bucket or container does not exist".into(),
                kind: RemoteErrorKind::NoSuchStore,
            }),
            Some(Err(e)) => Err(self.err(e)),
        }
    }
}

fn env_set(names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| std::env::var_os(n).is_some_and(|v| !v.is_empty()))
}

/// Whether GCS credentials are configured; without them the client would ask the metadata
/// server of a Google Cloud machine, which elsewhere costs a timeout before a vague error.
/// `GITML_GCS_INSTANCE_CREDENTIALS=1` says the machine has one.
fn gcs_credentials_configured() -> bool {
    if env_set(&[
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_SERVICE_ACCOUNT",
        "GOOGLE_SERVICE_ACCOUNT_PATH",
        "GOOGLE_SERVICE_ACCOUNT_KEY",
        "GITML_GCS_INSTANCE_CREDENTIALS",
    ]) {
        return true;
    }
    let config = std::env::var_os("CLOUDSDK_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config/gcloud"))
        });
    config.is_some_and(|c| c.join("application_default_credentials.json").is_file())
}

/// Whether Azure credentials are configured (the same reason as for GCS: no silent wait on a
/// managed-identity endpoint). `GITML_AZURE_MANAGED_IDENTITY=1` says the machine has one.
fn azure_credentials_configured() -> bool {
    env_set(&[
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_ACCESS_KEY",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_MASTER_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
        "AZURE_STORAGE_SAS_KEY",
        "AZURE_STORAGE_TOKEN",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_USE_AZURE_CLI",
        "GITML_AZURE_MANAGED_IDENTITY",
    ])
}

/// Keys from `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`) for the remote's `profile`
/// or `AWS_PROFILE`; `None` when neither names one or the file lacks it.
fn profile_credentials(spec: &RemoteSpec) -> Result<Option<(String, String, Option<String>)>> {
    let Some(profile) = spec
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok())
    else {
        return Ok(None);
    };
    let file = match std::env::var_os("AWS_SHARED_CREDENTIALS_FILE") {
        Some(f) => std::path::PathBuf::from(f),
        None => match std::env::var_os("HOME") {
            Some(h) => std::path::PathBuf::from(h).join(".aws/credentials"),
            None => return Ok(None),
        },
    };
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(None);
    };
    let mut in_section = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line.trim_matches(|c| c == '[' || c == ']').trim() == profile;
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_string();
            match k.trim() {
                "aws_access_key_id" => id = Some(v),
                "aws_secret_access_key" => secret = Some(v),
                "aws_session_token" => token = Some(v),
                _ => {}
            }
        }
    }
    for s in [&secret, &token].into_iter().flatten() {
        crate::error::register_secret(s);
    }
    match (id, secret) {
        (Some(i), Some(s)) => Ok(Some((i, s, token))),
        _ => Err(Error::RemoteConfig {
            remote: spec.name.clone(),
            message: format!(
                "AWS profile `{profile}` has no aws_access_key_id/aws_secret_access_key in `{}`",
                file.display()
            ),
        }),
    }
}

#[cfg(test)]
mod classify_tests {
    use super::*;

    fn generic(text: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: text.into(),
        }
    }

    #[test]
    fn a_403_in_a_timing_or_port_is_not_a_denial() {
        // Seen in CI: the elapsed time "1.42804031s" made an unreachable endpoint look denied.
        let e = generic(
            "Error performing GET http://127.0.0.1:45909/b in 1.42804031s, after 4 retries - HTTP error: error sending request",
        );
        assert!(matches!(classify(&e), RemoteErrorKind::Unreachable));
        let e = generic(
            "Server returned non-2xx status code: 403 Forbidden: <Error><Code>Denied</Code>",
        );
        assert!(matches!(classify(&e), RemoteErrorKind::Denied));
        let e = generic(
            "Error performing PUT in 0.2s - Client error with status 403 Forbidden: No Body",
        );
        assert!(matches!(classify(&e), RemoteErrorKind::Denied));
    }
}
