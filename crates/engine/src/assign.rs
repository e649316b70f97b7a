//! Deterministic assignment: the same (flow, contact) always lands in the same group and variant,
//! across restarts and instances, with no stored state.

/// FNV-1a over the parts (with a separator), finished with the splitmix64 mixer for good low bits.
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// True when this contact is in the flow's control group.
pub fn in_holdout(flow_id: &str, contact_key: &str, percent: u8) -> bool {
    percent > 0
        && stable_hash(&["holdout", flow_id, contact_key]) % 100 < u64::from(percent.min(100))
}

/// Picks a variant index by weight.
pub fn pick_variant(flow_id: &str, contact_key: &str, weights: &[u32]) -> Option<usize> {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let mut x = stable_hash(&["variant", flow_id, contact_key]) % total;
    for (i, w) in weights.iter().enumerate() {
        let w = u64::from(*w);
        if x < w {
            return Some(i);
        }
        x -= w;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_share_is_within_bounds_and_stable() {
        let n = 10_000;
        let held = (0..n)
            .filter(|i| in_holdout("cart_recovery", &format!("contact-{i}"), 50))
            .count();
        // Binomial(10000, 0.5): sd = 50; 4 sd either side.
        assert!((4800..=5200).contains(&held), "{held}");
        let held20 = (0..n)
            .filter(|i| in_holdout("f", &format!("c{i}@x.io"), 20))
            .count();
        assert!((1840..=2160).contains(&held20), "{held20}");
        for i in 0..100 {
            let k = format!("contact-{i}");
            assert_eq!(
                in_holdout("cart_recovery", &k, 50),
                in_holdout("cart_recovery", &k, 50)
            );
        }
        assert!(!(0..1000).any(|i| in_holdout("f", &i.to_string(), 0)));
        assert!((0..1000).all(|i| in_holdout("f", &i.to_string(), 100)));
    }

    #[test]
    fn variants_follow_weights() {
        let mut counts = [0usize; 2];
        for i in 0..10_000 {
            counts[pick_variant("f", &format!("c{i}"), &[3, 1]).expect("weights")] += 1;
        }
        assert!((7300..=7700).contains(&counts[0]), "{counts:?}");
        assert_eq!(pick_variant("f", "x", &[0, 0]), None);
    }
}
