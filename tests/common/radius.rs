//! A real FreeRADIUS for the tests: a private copy of Debian's
//! /etc/freeradius/3.0 with our clients, users and log paths, run in the
//! test's network namespace (never a mock).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::Netns;

pub const RADIUS_SECRET: &str = "radius-s3cret";

/// What the test wants from the server.
pub struct RadiusSetup {
    /// mods-config/files/authorize (users file) text.
    pub users: String,
    /// Ports to listen on: auth (acct = auth + 1). Two servers = two setups.
    pub auth_port: u16,
    /// Sign Access-Accept/Reject with Message-Authenticator (FreeRADIUS
    /// 3.2.1 does not by default; Blast-RADIUS-safe servers do).
    pub sign_replies: bool,
    /// clients.conf demands Message-Authenticator in our requests (Debian's
    /// stock clients.conf does not).
    pub require_message_authenticator: bool,
    /// The shared secret in clients.conf.
    pub secret: String,
}

impl RadiusSetup {
    /// FreeRADIUS 3.2 as Debian installs it: unsigned replies, nothing
    /// demanded of the NAS but the secret.
    pub fn debian_stock(users: String) -> RadiusSetup {
        RadiusSetup {
            users,
            sign_replies: false,
            require_message_authenticator: false,
            ..RadiusSetup::default()
        }
    }
}

impl Default for RadiusSetup {
    fn default() -> Self {
        RadiusSetup {
            users: String::new(),
            auth_port: 1812,
            sign_replies: true,
            require_message_authenticator: true,
            secret: RADIUS_SECRET.into(),
        }
    }
}

pub struct FreeRadius {
    child: Option<Child>,
    pub dir: PathBuf,
    pub log: PathBuf,
}

fn must_exist(p: &Path) {
    assert!(
        p.exists(),
        "{} is missing: apt-get install freeradius freeradius-utils",
        p.display()
    );
}

impl FreeRadius {
    pub fn start(ns: &Netns, dir: &Path, setup: &RadiusSetup) -> FreeRadius {
        let system = Path::new("/etc/freeradius/3.0");
        must_exist(system);
        let raddb = dir.join("raddb");
        let logdir = dir.join("radlog");
        let _ = fs::remove_dir_all(&raddb);
        fs::create_dir_all(logdir.join("radacct")).expect("radius log dir");
        let st = std::process::Command::new("cp")
            .arg("-a")
            .arg(system)
            .arg(&raddb)
            .status()
            .expect("cp");
        assert!(st.success(), "copy {}", system.display());

        let conf = fs::read_to_string(raddb.join("radiusd.conf")).expect("radiusd.conf");
        let conf: String = conf
            .lines()
            .map(|l| {
                let t = l.trim_start();
                if t.starts_with("logdir =") {
                    format!("logdir = {}", logdir.display())
                } else if t.starts_with("run_dir =") {
                    format!("run_dir = {}", logdir.display())
                } else if t.starts_with("user = freerad") || t.starts_with("group = freerad") {
                    format!("#{t}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        fs::write(raddb.join("radiusd.conf"), conf).expect("radiusd.conf");

        // Listen ports: the default site listens on 1812/1813 ("port = 0");
        // a second server gets other ports.
        let site = raddb.join("sites-available/default");
        let mut s = fs::read_to_string(&site).expect("default site");
        if setup.auth_port != 1812 {
            // IPv4 auth, IPv4 acct, IPv6 auth, IPv6 acct, in file order.
            for port in [
                setup.auth_port,
                setup.auth_port + 1,
                setup.auth_port,
                setup.auth_port + 1,
            ] {
                s = s.replacen("\tport = 0\n", &format!("\tport = {port}\n"), 1);
            }
        }
        if setup.sign_replies {
            s = s.replacen(
                "post-auth {\n",
                "post-auth {\n\tupdate reply {\n\t\tMessage-Authenticator := 0x00\n\t}\n",
                1,
            );
            s = s.replacen(
                "Post-Auth-Type REJECT {\n",
                "Post-Auth-Type REJECT {\n\t\tupdate reply {\n\t\t\tMessage-Authenticator := 0x00\n\t\t\tReply-Message := \"Access denied\"\n\t\t}\n",
                1,
            );
        }
        fs::write(&site, s).expect("default site");
        // The inner-tunnel site also listens (on 18120); a second server must not clash.
        if setup.auth_port != 1812 {
            let _ = fs::remove_file(raddb.join("sites-enabled/inner-tunnel"));
        }
        let require = if setup.require_message_authenticator {
            "\trequire_message_authenticator = yes\n"
        } else {
            ""
        };
        fs::write(
            raddb.join("clients.conf"),
            format!(
                "client lns {{\n\tipaddr = 127.0.0.0/8\n\tsecret = {}\n{require}}}\n",
                setup.secret
            ),
        )
        .expect("clients.conf");
        fs::write(raddb.join("mods-config/files/authorize"), &setup.users).expect("authorize");

        let log = dir.join(format!("freeradius-{}.log", setup.auth_port));
        let logf = fs::File::create(&log).expect("log");
        let child = ns
            .command("freeradius")
            .arg("-f")
            .arg("-d")
            .arg(&raddb)
            .args(["-l", "stdout"])
            .stdout(logf.try_clone().expect("log"))
            .stderr(logf)
            .stdin(Stdio::null())
            .spawn()
            .expect("start freeradius (apt-get install freeradius)");
        let mut fr = FreeRadius {
            child: Some(child),
            dir: raddb,
            log,
        };
        fr.wait_ready();
        fr
    }

    fn wait_ready(&mut self) {
        let t0 = Instant::now();
        loop {
            let text = fs::read_to_string(&self.log).unwrap_or_default();
            if text.contains("Ready to process requests") {
                return;
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("freeradius exited ({st}):\n{text}");
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "freeradius not ready:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every accounting record the server wrote (detail files), as text.
    pub fn detail(&self) -> String {
        let mut out = String::new();
        let root = self.dir.parent().expect("dir").join("radlog/radacct");
        if let Ok(hosts) = fs::read_dir(root) {
            for h in hosts.flatten() {
                if let Ok(files) = fs::read_dir(h.path()) {
                    for f in files.flatten() {
                        out.push_str(&fs::read_to_string(f.path()).unwrap_or_default());
                    }
                }
            }
        }
        out
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Stop the server (a "silent server" for failover tests).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for FreeRadius {
    fn drop(&mut self) {
        self.stop();
    }
}

/// radclient (freeradius-utils) in the namespace, as an operator runs it:
/// `attrs` on its stdin, to 127.0.0.1:`port`; returns what it printed.
pub fn radclient(ns: &Netns, port: u16, kind: &str, secret: &str, attrs: &str) -> String {
    use std::io::Write;
    let mut c = ns
        .command("radclient")
        .args([
            "-x",
            "-t",
            "2",
            "-r",
            "1",
            &format!("127.0.0.1:{port}"),
            kind,
            secret,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("radclient (apt-get install freeradius-utils)");
    c.stdin
        .take()
        .expect("stdin")
        .write_all(attrs.as_bytes())
        .expect("write");
    let out = c.wait_with_output().expect("radclient");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}
