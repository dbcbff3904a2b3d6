//! A throwaway certificate authority and a server certificate for
//! `127.0.0.1`, made with the `openssl` command line at test time in a
//! temporary directory (removed on drop).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const OPENSSL: &str = "openssl";

/// The files of a test CA: its certificate, and a server certificate it
/// signed (subject alternative name `IP:127.0.0.1`) with the server's key.
pub(crate) struct TestCa {
    dir: PathBuf,
    pub(crate) ca_cert: PathBuf,
    pub(crate) server_cert: PathBuf,
    pub(crate) server_key: PathBuf,
}

/// Runs `openssl args...` in `dir`; panics with its output when it fails
/// or cannot be started.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new(OPENSSL)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{OPENSSL}` (the TLS test makes its certificates with it): {e}")
        });
    assert!(
        out.status.success(),
        "`{OPENSSL} {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCa {
    /// Makes a CA (EC P-256, valid one day) and a server certificate for
    /// `127.0.0.1` signed by it.
    pub(crate) fn new() -> Self {
        let id = super::random_u32();
        let dir =
            std::env::temp_dir().join(format!("session-redis-tls-{}-{id:08x}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("certificate dir");
        let ca = Self {
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            dir,
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        let mut req_ca = vec!["req", "-x509", "-nodes", "-days", "1"];
        req_ca.extend(ec);
        req_ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=session-redis test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&ca.dir, &req_ca);
        let mut req_server = vec!["req", "-nodes"];
        req_server.extend(ec);
        req_server.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        openssl(&ca.dir, &req_server);
        std::fs::write(
            ca.dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\n\
             basicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\n",
        )
        .expect("extensions file");
        openssl(
            &ca.dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                "server.ext",
                "-out",
                "server.crt",
            ],
        );
        ca
    }

    /// The CA certificate, PEM.
    pub(crate) fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca_cert).expect("read CA certificate")
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
