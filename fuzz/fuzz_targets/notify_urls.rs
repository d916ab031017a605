//! Notify URLs as merchants set them: judged without resolving, under each policy; a URL
//! accepted for public hosts names no loopback, private or link-local address.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mypay_gateway::ledger::notify_url::{NotifyHosts, NotifyPolicy, is_public};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for (hosts, standard_ports_only) in [
        (NotifyHosts::Public, true),
        (NotifyHosts::Public, false),
        (NotifyHosts::Any, false),
    ] {
        let policy = NotifyPolicy {
            hosts,
            standard_ports_only,
        };
        if let Ok(url) = policy.check(text)
            && hosts == NotifyHosts::Public
        {
            match url.host() {
                Some(url::Host::Ipv4(ip)) => assert!(is_public(ip.into()), "{text}"),
                Some(url::Host::Ipv6(ip)) => assert!(is_public(ip.into()), "{text}"),
                _ => {}
            }
        }
    }
});
