//! `gatewayd sftp-setup`: the OpenSSH side of the partner inboxes (DESIGN.md, "Real
//! parts"): one chrooted user per trading partner, served by OpenSSH's own
//! `internal-sftp`, never an SFTP server of ours.
//!
//! [`setup`] prints, for the configured partners:
//!
//! - the sshd_config lines: `Subsystem sftp internal-sftp` (global) and one
//!   `Match User <partner>` block each: `ChrootDirectory <root>/<partner>`,
//!   `ForceCommand internal-sftp -u 0007` (files are created group-readable and
//!   -writable, nothing for others), keys from `<keys_dir>/<partner>` (root-owned,
//!   outside the chroot), and no forwarding, tunnel, X11, TTY or password;
//! - the shell commands (as root) that make it so: the partner user (no password, no
//!   shell, home `/` inside the chroot) with its own group, the service user gatewayd
//!   runs as added to that group, the chroot `<root>/<partner>` owned by root and not
//!   writable by anyone else (sshd refuses a chroot otherwise), and `inbox` and `outbox`
//!   in it owned by the partner and its group, mode `2770` (the group is inherited, so
//!   gatewayd reads and removes what the partner uploads, and the partner reads and
//!   removes what gatewayd writes);
//! - the `inbox`/`outbox` keys each `[[partner]]` needs in gatewayd's config, with a
//!   warning where the configured folders are elsewhere.
//!
//! The partner id is the user name, so ids must also be valid user names (start with a
//! letter or `_`); others get a warning line.

use super::config::{Config, Partner};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Where the setup puts things.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupOptions {
    /// The folder holding one chroot per partner (default `/srv/sftp`).
    pub root: PathBuf,
    /// The folder of the partners' authorized keys files, one per partner named by its
    /// id (default `/etc/ssh/authorized_keys`).
    pub keys_dir: PathBuf,
    /// The user gatewayd runs as (default `gatewayd`).
    pub service_user: String,
}

impl Default for SetupOptions {
    fn default() -> Self {
        SetupOptions {
            root: PathBuf::from("/srv/sftp"),
            keys_dir: PathBuf::from("/etc/ssh/authorized_keys"),
            service_user: "gatewayd".into(),
        }
    }
}

/// Which part of the setup to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Everything: sshd_config, commands, config keys (each section headed by a comment).
    All,
    /// Only the sshd_config lines.
    Sshd,
    /// Only the shell commands.
    Commands,
}

/// A path quoted for a POSIX shell.
fn sh(p: &Path) -> String {
    let s = p.display().to_string();
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@".contains(&b))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A path for sshd_config (double-quoted when it holds a space).
fn sshd_path(p: &Path) -> String {
    let s = p.display().to_string();
    if s.contains(' ') {
        format!("\"{s}\"")
    } else {
        s
    }
}

/// Whether a partner id is also a user name useradd takes.
fn user_name_ok(id: &str) -> bool {
    id.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
}

/// The sshd_config lines for `partners`.
pub fn sshd_config(partners: &[Partner], opts: &SetupOptions) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# in the global section (before any Match), replacing any other `Subsystem sftp`\n# line: OpenSSH's in-process SFTP server, which needs nothing inside the chroot\nSubsystem sftp internal-sftp\n"
    );
    for p in partners {
        let _ = writeln!(
            s,
            "Match User {id}\n    ChrootDirectory {chroot}\n    ForceCommand internal-sftp -u 0007\n    AuthorizedKeysFile {keys}/%u\n    PasswordAuthentication no\n    KbdInteractiveAuthentication no\n    AllowTcpForwarding no\n    AllowStreamLocalForwarding no\n    AllowAgentForwarding no\n    PermitTunnel no\n    X11Forwarding no\n    PermitTTY no\n",
            id = p.id,
            chroot = sshd_path(&opts.root.join(&p.id)),
            keys = sshd_path(&opts.keys_dir),
        );
    }
    s
}

/// The shell commands (run as root) that create the users, folders and key files.
pub fn commands(partners: &[Partner], opts: &SetupOptions) -> String {
    let mut s = String::new();
    let svc = &opts.service_user;
    let _ = writeln!(s, "set -eu");
    let _ = writeln!(
        s,
        "id -u {svc} >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin {svc}"
    );
    let _ = writeln!(
        s,
        "install -d -o root -g root -m 0755 {root} {keys}",
        root = sh(&opts.root),
        keys = sh(&opts.keys_dir)
    );
    for p in partners {
        let id = &p.id;
        let chroot = opts.root.join(id);
        if !user_name_ok(id) {
            let _ = writeln!(
                s,
                "# WARNING: partner id `{id}` is not a user name useradd takes (start it with a letter)"
            );
        }
        let _ = writeln!(s, "\n# partner {id}");
        let _ = writeln!(
            s,
            "id -u {id} >/dev/null 2>&1 || useradd --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin --password '*' {id}"
        );
        let _ = writeln!(s, "usermod --append --groups {id} {svc}");
        let _ = writeln!(s, "install -d -o root -g root -m 0755 {}", sh(&chroot));
        let _ = writeln!(
            s,
            "install -d -o {id} -g {id} -m 2770 {} {}",
            sh(&chroot.join("inbox")),
            sh(&chroot.join("outbox"))
        );
        let keys = opts.keys_dir.join(id);
        let _ = writeln!(
            s,
            "test -e {k} || install -o root -g root -m 0644 /dev/null {k}",
            k = sh(&keys)
        );
        let _ = writeln!(
            s,
            "# then append the partner's public key(s): cat PARTNER.pub >> {}",
            sh(&keys)
        );
    }
    let _ = writeln!(
        s,
        "\n# check the sshd_config, then reload: sshd -t && systemctl reload ssh"
    );
    s
}

/// The gatewayd config keys each partner needs, with a warning where its configured
/// folders are not in its chroot.
pub fn config_keys(partners: &[Partner], opts: &SetupOptions) -> String {
    let mut s = String::new();
    for p in partners {
        let chroot = opts.root.join(&p.id);
        let (inbox, outbox) = (chroot.join("inbox"), chroot.join("outbox"));
        let _ = writeln!(
            s,
            "# [[partner]] id = \"{}\"\n#   inbox = \"{}\"\n#   outbox = \"{}\"",
            p.id,
            inbox.display(),
            outbox.display()
        );
        if p.inbox != inbox || p.outbox != outbox {
            let _ = writeln!(
                s,
                "# WARNING: partner `{}` is configured with inbox {} and outbox {}: set the two keys above",
                p.id,
                p.inbox.display(),
                p.outbox.display()
            );
        }
    }
    s
}

/// The whole setup for the configured partners (see the module documentation).
///
/// ```
/// use gatewayd::daemon::{config::Config, sftp};
/// let cfg = Config::embedded().unwrap();
/// let text = sftp::setup(&cfg, &sftp::SetupOptions::default(), sftp::Part::Sshd);
/// assert!(text.contains("Match User demo\n    ChrootDirectory /srv/sftp/demo\n    ForceCommand internal-sftp -u 0007\n"));
/// ```
pub fn setup(cfg: &Config, opts: &SetupOptions, part: Part) -> String {
    match part {
        Part::Sshd => sshd_config(&cfg.partners, opts),
        Part::Commands => commands(&cfg.partners, opts),
        Part::All => format!(
            "# ===== sshd_config (append to /etc/ssh/sshd_config) =====\n{}\n# ===== commands (run as root) =====\n{}\n# ===== gatewayd config =====\n{}",
            sshd_config(&cfg.partners, opts),
            commands(&cfg.partners, opts),
            config_keys(&cfg.partners, opts)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_commands_for_each_partner() {
        let cfg = Config::from_toml(
            "[[partner]]\nid = \"acme\"\ninbox = \"/srv/sftp/acme/inbox\"\noutbox = \"/srv/sftp/acme/outbox\"\n[[partner]]\nid = \"9bad\"\n",
            Path::new("/base"),
        )
        .unwrap();
        let o = SetupOptions::default();
        let sshd = sshd_config(&cfg.partners, &o);
        for line in [
            "Match User acme",
            "ChrootDirectory /srv/sftp/acme",
            "ForceCommand internal-sftp -u 0007",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "PermitTTY no",
            "PasswordAuthentication no",
            "AuthorizedKeysFile /etc/ssh/authorized_keys/%u",
        ] {
            assert!(sshd.contains(line), "{line}\n{sshd}");
        }
        assert_eq!(sshd.matches("Match User").count(), 2);
        let cmds = commands(&cfg.partners, &o);
        assert!(cmds.contains("install -d -o root -g root -m 0755 /srv/sftp/acme\n"));
        assert!(cmds.contains(
            "install -d -o acme -g acme -m 2770 /srv/sftp/acme/inbox /srv/sftp/acme/outbox\n"
        ));
        assert!(cmds.contains("usermod --append --groups acme gatewayd\n"));
        assert!(cmds.contains("WARNING: partner id `9bad`"));
        let keys = config_keys(&cfg.partners, &o);
        assert!(!keys.contains("WARNING: partner `acme`"), "{keys}");
        assert!(keys.contains("WARNING: partner `9bad`"), "{keys}");
        assert_eq!(sh(Path::new("/a b/it's")), "'/a b/it'\\''s'");
    }
}
