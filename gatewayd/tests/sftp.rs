//! End to end over a real OpenSSH server: sshd (started here on 127.0.0.1, a free port,
//! its own host key and sshd_config under a temporary folder) with the `Match User`
//! block and the users and folders that `gatewayd sftp-setup` prints; the real `sftp`
//! client uploads a batch as `NAME.part` and renames it, downloads the 999, a vendor
//! leases and decides over HTTP, and the submitter downloads the 278 response.
//!
//! Needs root (useradd, a root-owned chroot) and OpenSSH (`.ci/run` installs
//! openssh-server and openssh-client). Without them the test fails and says why; it
//! never passes silently.

mod daemon_support;

use daemon_support::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PARTNER: &str = "ncx12sftp";
const SERVICE_USER: &str = "ncx12gw";

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Removes what the test made outside the temporary folder, and stops sshd.
struct Cleanup {
    base: PathBuf,
    sshd: Option<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(c) = self.sshd.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

struct Client {
    sftp: PathBuf,
    key: PathBuf,
    port: u16,
    dir: PathBuf,
}

impl Client {
    /// Runs an sftp batch; returns its standard output.
    fn batch(&self, commands: &str) -> String {
        let file = self.dir.join("batch.sftp");
        std::fs::write(&file, commands).unwrap();
        let out = run(Command::new(&self.sftp)
            .arg("-b")
            .arg(&file)
            .arg("-i")
            .arg(&self.key)
            .arg("-P")
            .arg(self.port.to_string())
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("{PARTNER}@127.0.0.1"))
            .stdin(Stdio::null()));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Lists the outbox over sftp until a file starting with `prefix` is there.
    fn wait_for(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let listing = self.batch("ls -1 outbox\n");
            if let Some(name) = listing
                .lines()
                .map(|l| l.trim().trim_start_matches("outbox/"))
                .find(|l| l.starts_with(prefix) && !l.ends_with(".part"))
            {
                return name.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no {prefix} file in the outbox over sftp: {listing}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Downloads `outbox/NAME`.
    fn get(&self, name: &str) -> Vec<u8> {
        let local = self.dir.join(format!("got-{name}"));
        self.batch(&format!("get outbox/{name} {}\n", local.display()));
        std::fs::read(&local).unwrap()
    }
}

#[test]
fn sftp_upload_ack_decision_and_response_over_real_openssh() {
    // real parts or a clear failure, never a silent pass
    let uid = String::from_utf8(run(Command::new("id").arg("-u")).stdout).unwrap();
    assert_eq!(
        uid.trim(),
        "0",
        "this test needs root (useradd and a root-owned chroot for sshd); CI runs as root"
    );
    let missing: Vec<&str> = ["sshd", "sftp", "ssh", "ssh-keygen", "useradd"]
        .into_iter()
        .filter(|p| find_program(p).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "OpenSSH is missing ({missing:?}): apt-get install -y openssh-server openssh-client (.ci/run does)"
    );
    let sshd_bin = find_program("sshd").unwrap();

    // sshd refuses a chroot with any group- or world-writable component, so it cannot
    // live under /tmp: a root-owned folder under /srv, removed at the end
    let base = PathBuf::from(format!(
        "/srv/gatewayd-sftp-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&base).unwrap();
    let mut cleanup = Cleanup {
        base: base.clone(),
        sshd: None,
    };
    {
        use std::os::unix::fs::PermissionsExt;
        for d in [Path::new("/srv"), &base] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let root = base.join("sftp");
    let keys = base.join("keys");
    let dir = temp_dir("sftp");
    let chroot = root.join(PARTNER);
    let extra = format!(
        "[[partner]]\nid = \"{PARTNER}\"\nsender_ids = [\"CLEARINGHOUSE\"]\ninbox = \"{}\"\noutbox = \"{}\"\n",
        chroot.join("inbox").display(),
        chroot.join("outbox").display()
    );
    let http_port = free_port();
    let cfg = dir.join("setup.toml");
    std::fs::write(&cfg, config_text(&dir, http_port, &extra)).unwrap();

    // what `gatewayd sftp-setup` prints is what runs here
    let setup = |part: &str| -> String {
        let out = run(Command::new(env!("CARGO_BIN_EXE_gatewayd"))
            .arg("sftp-setup")
            .arg("--config")
            .arg(&cfg)
            .arg("--root")
            .arg(&root)
            .arg("--keys-dir")
            .arg(&keys)
            .args(["--service-user", SERVICE_USER, "--print", part]));
        String::from_utf8(out.stdout).unwrap()
    };
    let commands = setup("commands");
    run(Command::new("sh").arg("-c").arg(&commands));
    let sshd_blocks = setup("sshd");
    assert!(sshd_blocks.contains(&format!("Match User {PARTNER}")));

    // keys: the server's own host key, the partner's key pair
    let host_key = dir.join("host_ed25519");
    let client_key = dir.join("client_ed25519");
    for k in [&host_key, &client_key] {
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", ""])
            .arg("-f")
            .arg(k));
    }
    let pubkey = std::fs::read_to_string(client_key.with_extension("pub")).unwrap();
    std::fs::write(keys.join(PARTNER), pubkey).unwrap();

    let ssh_port = free_port();
    let sshd_config = dir.join("sshd_config");
    std::fs::write(
        &sshd_config,
        format!(
            "Port {ssh_port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n\
             AuthorizedKeysFile none\nAllowUsers {PARTNER}\n\
             # the test's key files live under /tmp, which StrictModes refuses\nStrictModes no\n\
             LogLevel VERBOSE\n{sshd_blocks}",
            host_key.display(),
            dir.join("sshd.pid").display()
        ),
    )
    .unwrap();
    // privilege separation folder (made by the service unit on a normal install)
    std::fs::create_dir_all("/run/sshd").unwrap();
    run(Command::new(&sshd_bin)
        .arg("-t")
        .arg("-f")
        .arg(&sshd_config));
    let sshd_log = dir.join("sshd.log");
    cleanup.sshd = Some(
        Command::new(&sshd_bin)
            .args(["-D", "-e", "-f"])
            .arg(&sshd_config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&sshd_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", ssh_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "sshd did not listen: {}",
            std::fs::read_to_string(&sshd_log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let d = Daemon::start_on(&dir, &extra, http_port);
    let client = Client {
        sftp: find_program("sftp").unwrap(),
        key: client_key.clone(),
        port: ssh_port,
        dir: dir.clone(),
    };

    // confined: the chroot shows the two folders only, and no shell is given
    let listing = client.batch("ls -1 /\n");
    let entries: Vec<&str> = listing
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("sftp>"))
        .collect();
    assert_eq!(
        entries,
        ["/inbox", "/outbox"],
        "{listing}\n{}",
        std::fs::read_to_string(&sshd_log).unwrap_or_default()
    );
    let shell = Command::new(find_program("ssh").unwrap())
        .arg("-i")
        .arg(&client_key)
        .arg("-p")
        .arg(ssh_port.to_string())
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg(format!("{PARTNER}@127.0.0.1"))
        .arg("echo shell-given")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&shell.stdout).contains("shell-given"),
        "a command ran over ssh"
    );

    // upload as NAME.part, then rename: gatewayd takes it
    let batch = std::fs::read(repo().join("fixtures/routing/ex03-pcs.x12")).unwrap();
    let local = dir.join("pcs.x12");
    std::fs::write(&local, &batch).unwrap();
    client.batch(&format!(
        "cd inbox\nput {} pcs.x12.part\nrename pcs.x12.part pcs.x12\n",
        local.display()
    ));
    let ack_name = client.wait_for("999-");
    let ack = client.get(&ack_name);
    assert_eq!(
        ack,
        std::fs::read(chroot.join("outbox").join(&ack_name)).unwrap()
    );
    assert!(
        String::from_utf8_lossy(&ack).contains("AK9*A"),
        "{ack_name}"
    );
    assert!(
        std::fs::read_dir(chroot.join("inbox"))
            .unwrap()
            .next()
            .is_none(),
        "the upload was taken from the inbox"
    );

    // the vendor leases and decides over HTTP
    let items = d.lease_all("liberty");
    assert_eq!(items.len(), 1, "{items:?}");
    let (status, r) = d.post(
        "/v1/decisions",
        Some(&token("liberty")),
        json!({"item_id": items[0]["id"], "decision": "approve",
               "certification_number": "SFTP0001", "effective": "20230301", "expires": "20230531"}),
    );
    assert_eq!(status, 200, "{r}");

    // the submitter downloads the 278 response
    let response_name = client.wait_for("278-");
    assert_eq!(Some(response_name.as_str()), r["response"].as_str());
    let response = String::from_utf8(client.get(&response_name)).unwrap();
    assert!(response.contains("HCR*A1*SFTP0001"), "{response}");
    // and removes what it took, as a partner does
    client.batch(&format!(
        "rm outbox/{response_name}\nrm outbox/{ack_name}\n"
    ));
    assert!(!chroot.join("outbox").join(&response_name).exists());
    drop(d);
    drop(cleanup);
    let _ = std::fs::remove_dir_all(&dir);
}
