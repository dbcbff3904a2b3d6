//! The hostile-cookie scenario: a seeded generator of random and mutated
//! `Cookie` headers, none of which may reach the live session.

use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::json;

use super::harness::{
    Browser, TestApp, app, assert_ok, base_config, build, cookie_value, send_raw,
};
use crate::Store;

/// The seed of [`adversarial_cookies_never_leak`]'s generator (fixed, so a
/// failure reproduces; the failure message names the request number).
pub const ADVERSARIAL_SEED: u64 = 0x5E55_10C0_0C1E;

/// How many hostile `Cookie` headers [`adversarial_cookies_never_leak`]
/// sends.
pub const ADVERSARIAL_REQUESTS: usize = 10_000;

/// 10,000 random and mutated `Cookie` headers (bit flips of a live cookie,
/// wrong keys, forged macs, truncations, long values, headers over 8 KiB,
/// hundreds of cookies, duplicates, non-UTF-8 bytes, random bytes) from a
/// seeded generator. Every response is a 200 with a fresh session, or a
/// clean 400 / 431 from the framework: never a 500 or 503, never the data
/// of the live session seeded first, never its id. (Rocket drops header
/// values that are not UTF-8; such requests are simply cookie-less.)
pub async fn adversarial_cookies_never_leak(a: &impl TestApp, store: Arc<dyn Store>) {
    use rand::{Rng as _, RngCore as _, SeedableRng as _};

    let c = app(a, build(base_config()), store).await;
    let secret = format!("owner-secret-{}", crate::SessionId::random().short());
    let mut owner = Browser::new(&*c);
    assert_ok(&owner.post("/set/secret", &format!("{secret:?}")).await);
    let good = owner.cookie.clone().expect("cookie");
    let (id_part, mac_part) = good.split_once('.').expect("signed value");
    let owner_id = crate::SessionId::parse(id_part).expect("id");
    let mut rng = rand::rngs::StdRng::seed_from_u64(ADVERSARIAL_SEED);
    // Header values may hold any byte but controls (the `http` crate refuses
    // those, and so does every client): map them to printable ones.
    let clean = |bytes: &mut Vec<u8>| {
        for b in bytes.iter_mut() {
            if (*b < 0x20 && *b != b'\t') || *b == 0x7f {
                *b |= 0x40;
                if *b == 0x7f {
                    *b = b'~';
                }
            }
        }
    };
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for n in 0..ADVERSARIAL_REQUESTS {
        let mut cookie: Vec<u8> = match rng.random_range(0..10u8) {
            // One flipped bit of the live cookie.
            0 => {
                let mut v = good.clone().into_bytes();
                let bit = rng.random_range(0..v.len() * 8);
                v[bit / 8] ^= 1 << (bit % 8);
                [b"id=".as_slice(), &v].concat()
            }
            // The owner's id signed with a random key.
            1 => {
                let mut k = [0u8; 32];
                rng.fill_bytes(&mut k);
                let keys = crate::Keys::new(crate::Key::new(&k).expect("32-byte key"));
                format!("id={}", keys.sign(&owner_id)).into_bytes()
            }
            // The owner's id with a random mac, or the owner's mac on a random id.
            2 => {
                let mut m = [0u8; 32];
                rng.fill_bytes(&mut m);
                let forged = crate::SessionId::from_bytes(m).to_string();
                if rng.random_bool(0.5) {
                    format!("id={id_part}.{forged}").into_bytes()
                } else {
                    format!("id={forged}.{mac_part}").into_bytes()
                }
            }
            // Truncated or extended live cookie.
            3 => {
                let cut = rng.random_range(0..good.len());
                let tail: String = (0..rng.random_range(0..4))
                    .map(|_| char::from(rng.random_range(b'#'..=b'+')))
                    .collect();
                format!("id={}{tail}", &good[..cut]).into_bytes()
            }
            // Long values, sometimes a header over 8 KiB.
            4 => {
                let len = rng.random_range(100..12_000);
                let fill = char::from(rng.random_range(b'a'..=b'z'));
                format!("id={}{}", good, fill.to_string().repeat(len)).into_bytes()
            }
            // Hundreds of cookies, with broken ones of ours among them.
            5 => {
                let count = rng.random_range(10..400);
                let mut pairs: Vec<String> = (0..count)
                    .map(|i| format!("c{i}=v{}", rng.next_u32()))
                    .collect();
                let at = rng.random_range(0..pairs.len());
                pairs.insert(at, format!("id={id_part}.{}", &mac_part[1..]));
                pairs.join("; ").into_bytes()
            }
            // Non-UTF-8 bytes in and around a live-looking cookie.
            6 => {
                let mut v = format!("id={good}").into_bytes();
                for _ in 0..rng.random_range(1..4) {
                    let at = rng.random_range(0..=v.len());
                    v.insert(at, rng.random_range(0x80..=0xffu8));
                }
                v
            }
            // Random bytes.
            7 => {
                let mut v = vec![0u8; rng.random_range(0..300)];
                rng.fill_bytes(&mut v);
                v
            }
            // Duplicates: several forged values under our name.
            8 => {
                let mut k = [0u8; 32];
                rng.fill_bytes(&mut k);
                let keys = crate::Keys::new(crate::Key::new(&k).expect("32-byte key"));
                format!(
                    "id=; id={}; id=\"{id_part}\"; ID={good}; id ={id_part}.",
                    keys.sign(&owner_id)
                )
                .into_bytes()
            }
            // Cookie grammar edge cases around a broken value.
            _ => {
                let pick = [
                    "id==",
                    "id=\"\"",
                    ";;;;",
                    "=id",
                    "id",
                    "id=%00",
                    "id=\u{1F36A}",
                    "\tid\t=\t",
                ];
                let p = pick[rng.random_range(0..pick.len())];
                format!("{p}; id={}", &good[..good.len() - 1]).into_bytes()
            }
        };
        clean(&mut cookie);
        if cookie == format!("id={good}").as_bytes() {
            // A flip undone by the cleaning: still a hostile value.
            cookie.pop();
        }
        let write = n % 8 == 0;
        let (method, path, body) = if write {
            (Method::POST, "/set/mine", "1")
        } else {
            (Method::GET, "/get/secret", "")
        };
        let r = send_raw(&*c, method, path, body, Some(&cookie)).await;
        *statuses.entry(r.status.as_u16()).or_default() += 1;
        let shown = String::from_utf8_lossy(&cookie[..cookie.len().min(120)]).into_owned();
        let what = format!("request {n} (seed {ADVERSARIAL_SEED:#x}), cookie {shown:?}");
        assert!(
            matches!(r.status.as_u16(), 200 | 400 | 431),
            "{what}: status {} body {:?}",
            r.status,
            r.body
        );
        assert!(
            !r.body.contains(&secret),
            "{what}: leaked the live session's data"
        );
        assert!(
            !r.body.contains(id_part),
            "{what}: leaked the live session's id"
        );
        if r.status != StatusCode::OK {
            continue;
        }
        if write {
            let issued = r
                .ours
                .as_deref()
                .map(cookie_value)
                .unwrap_or_else(|| panic!("{what}: no fresh cookie"));
            assert_ne!(issued.split('.').next(), Some(id_part), "{what}: id reused");
        } else {
            assert_eq!(r.body, "null", "{what}: not a fresh session");
            assert_eq!(r.ours, None, "{what}: a read set a cookie");
        }
    }
    assert!(
        statuses.get(&200).copied().unwrap_or(0) >= ADVERSARIAL_REQUESTS / 2,
        "most hostile requests should be served: {statuses:?}"
    );
    // The live session is intact and never saw the others' writes.
    assert_eq!(owner.get("/get/secret").await.json(), json!(secret));
    assert_eq!(owner.value("mine").await, "null");
}
