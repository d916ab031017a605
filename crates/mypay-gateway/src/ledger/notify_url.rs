//! Where notices may go (附錄三, SPEC §6): `http`/`https` URLs, in production on ports 80
//! and 443 only, and, with the `public` host policy, only to public addresses.
//!
//! URLs are read with the same parser the HTTP client uses (the WHATWG URL standard of
//! the `url` crate), so every spelling of an address (decimal `2130706433`, hex
//! `0x7f.1`, octal `0177.0.0.1`, short `127.1`, a trailing dot, a backslash the parser
//! reads as a path) is judged as the address the client would connect to, never by
//! string matching. Names are judged where they are resolved, at delivery
//! (`notify::resolver`): the connection is made only to the public addresses a name resolves
//! to, so a name pointing at loopback (`/etc/hosts`, a hostile DNS) reaches nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Which hosts notices may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyHosts {
    /// Public addresses only (the default in production).
    Public,
    /// Any host, loopback included (the default in the sandbox: merchants test against
    /// their own machines).
    Any,
}

impl NotifyHosts {
    pub fn parse(text: &str) -> Option<NotifyHosts> {
        match text.trim().to_ascii_lowercase().as_str() {
            "public" => Some(NotifyHosts::Public),
            "any" => Some(NotifyHosts::Any),
            _ => None,
        }
    }
}

/// The rules a notify URL is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyPolicy {
    pub hosts: NotifyHosts,
    /// Ports 80 and 443 only (附錄三).
    pub standard_ports_only: bool,
}

impl NotifyPolicy {
    /// Check `text` as far as it can be judged without resolving its host; the parsed URL
    /// is what the client must send to.
    pub fn check(&self, text: &str) -> Result<Url, String> {
        let url = Url::parse(text.trim()).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
        let port = match url.scheme() {
            "http" | "https" => url.port_or_known_default().unwrap_or(0),
            _ => return Err(format!("{text:?} is not an http:// or https:// URL")),
        };
        let host = url.host().ok_or_else(|| format!("{text:?} has no host"))?;
        if self.standard_ports_only && port != 80 && port != 443 {
            return Err(format!(
                "{text:?}: notices go to ports 80 and 443 only (附錄三)"
            ));
        }
        if self.hosts == NotifyHosts::Public {
            let address = match host {
                Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
                Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
                Host::Domain(_) => None,
            };
            if let Some(ip) = address
                && !is_public(ip)
            {
                return Err(format!(
                    "{text:?}: notices go to public addresses only, not {ip}"
                ));
            }
        }
        Ok(url)
    }
}

/// Whether `ip` is a public unicast address: not loopback, private, link-local, CGNAT,
/// unspecified, broadcast, multicast, documentation, benchmarking or otherwise reserved,
/// and not one of those in an IPv4-mapped, IPv4-compatible, 6to4 or NAT64 IPv6 form.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let reserved = a == 0                                // "this network"
        || a == 10                                       // private
        || (a == 100 && (64..128).contains(&b))          // CGNAT 100.64/10
        || a == 127                                      // loopback
        || (a == 169 && b == 254)                        // link-local
        || (a == 172 && (16..32).contains(&b))           // private
        || (a == 192 && b == 0 && c == 0)                // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)                // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)              // 6to4 relay anycast
        || (a == 192 && b == 168)                        // private
        || (a == 198 && (18..20).contains(&b))           // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100)             // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)              // TEST-NET-3
        || a >= 224; // multicast 224/4, reserved 240/4, broadcast
    !reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d: the IPv4 address decides.
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        if s[5] == 0 && s[6] == 0 {
            return false; // ::, ::1 and the rest of ::/96 below 0.1.0.0
        }
        return is_public_v4(embedded(s[6], s[7]));
    }
    // NAT64 well-known prefix 64:ff9b::/96: the IPv4 address decides.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(s[6], s[7]));
    }
    // 6to4 2002::/16 carries an IPv4 address in its next 32 bits.
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    // Global unicast is 2000::/3; within it, IETF protocol assignments (2001::/23,
    // Teredo included), documentation (2001:db8::/32, 3fff::/20) are not public.
    let global = (s[0] & 0xe000) == 0x2000;
    let protocol = s[0] == 0x2001 && s[1] < 0x0200;
    let documentation = (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] & 0xfff0) == 0x3ff0;
    global && !protocol && !documentation
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: NotifyPolicy = NotifyPolicy {
        hosts: NotifyHosts::Public,
        standard_ports_only: true,
    };

    #[test]
    fn every_spelling_of_an_internal_address_is_refused() {
        for bad in [
            "http://127.0.0.1/n",
            "http://2130706433/n",
            "http://0x7f000001/n",
            "http://0x7f.0x0.0x0.0x1/n",
            "http://0177.0.0.1/n",
            "http://017700000001/n",
            "http://127.1/n",
            "http://127.0.0.1./n",
            "http://0/n",
            "http://0.0.0.0/n",
            "http://10.0.0.5/n",
            "http://100.64.0.1/n",
            "http://169.254.169.254/latest/meta-data",
            "http://172.16.0.1/n",
            "http://192.168.1.2/n",
            "http://224.0.0.1/n",
            "http://255.255.255.255/n",
            "http://[::1]/n",
            "http://[::]/n",
            "http://[::ffff:127.0.0.1]/n",
            "http://[::ffff:7f00:1]/n",
            "http://[::127.0.0.1]/n",
            "http://[64:ff9b::7f00:1]/n",
            "http://[64:ff9b::a00:1]/n",
            "http://[2002:7f00:1::]/n",
            "http://[fd00::1]/n",
            "http://[fe80::1]/n",
            "http://[ff02::1]/n",
            "http://[2001:db8::1]/n",
            "http://127.0.0.1\\@shop.example/n",
            "http://shop.example@127.0.0.1/n",
            "http://①②⑦.0.0.1/n",
        ] {
            assert!(PUBLIC.check(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn public_hosts_on_standard_ports_are_accepted() {
        for ok in [
            "https://shop.example/notify",
            "http://shop.example:80/n",
            "https://8.8.8.8:443/n",
            "https://[2606:4700:4700::1111]/n",
            "http://[::ffff:8.8.8.8]/n",
            "http://[64:ff9b::808:808]/n",
            "http://shop.example\\@127.0.0.1/n",
        ] {
            assert!(PUBLIC.check(ok).is_ok(), "{ok}: {:?}", PUBLIC.check(ok));
        }
    }

    #[test]
    fn ports_and_schemes_are_checked_and_any_allows_loopback() {
        assert!(PUBLIC.check("https://shop.example:8443/n").is_err());
        assert!(PUBLIC.check("ftp://shop.example/").is_err());
        assert!(PUBLIC.check("shop.example/notify").is_err());
        assert!(PUBLIC.check("javascript:alert(1)").is_err());
        let sandbox = NotifyPolicy {
            hosts: NotifyHosts::Any,
            standard_ports_only: false,
        };
        assert!(sandbox.check("http://127.0.0.1:9000/notify").is_ok());
        assert!(sandbox.check("not a url").is_err());
        assert!(sandbox.check("http://host:99999/").is_err());
    }
}
