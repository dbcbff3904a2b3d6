//! The Lua scripts behind every store call. Each script names exactly one
//! key (`ENROL`: two keys on one hash tag, the user's), so each runs on one
//! node of a Cluster, atomically, in one round trip (`EVALSHA`; the client
//! loads a script the server lacks and retries).
//!
//! A session value is `<version>:<payload>` (no user) or
//! `<version>u<len>:<user>:<payload>` (`len` = the user's length in bytes);
//! see [`crate::store`] for the Rust side of the encoding.

use std::sync::LazyLock;

use redis::Script;

/// Lua helpers shared by the session scripts.
///
/// `user_of(v)`: the user of a session value, or `nil`.
/// `covered(key, at, grid)`: whether `at` (ms) is at or before the index
/// bound of the key's current expiry, its expiry rounded up to a multiple of
/// `grid` ms (see `INDEX_GRID`).
const HELPERS: &str = r"
local function user_of(v)
  local n, p = string.match(v, '^%d+u(%d+):()')
  if not n then return nil end
  n = tonumber(n)
  if string.sub(v, p + n, p + n) ~= ':' then return nil end
  return string.sub(v, p, p + n - 1)
end
local function covered(key, at, grid)
  local cur = redis.call('PEXPIRETIME', key)
  grid = tonumber(grid)
  return tonumber(at) <= math.ceil(cur / grid) * grid
end
";

fn with_helpers(body: &str) -> Script {
    Script::new(&format!("{HELPERS}{body}"))
}

/// Loads the value and its absolute expiry (ms since the epoch) atomically.
/// Returns `false` or `{value, expiry}`.
pub(crate) static LOAD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PEXPIRETIME', KEYS[1])}",
    )
});

/// Insert-if-absent. ARGV: value, expiry (ms). Returns 1 stored,
/// 0 a live key exists.
pub(crate) static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2]) then return 1 end
return 0",
    )
});

/// Compare-and-swap on the version prefix of the value.
/// ARGV: expected version (decimal), new value, new expiry (ms), `1` when
/// the caller has already linked the new value's user for this expiry,
/// the index grid (ms).
/// Returns 0 gone, 1 conflict, -1 unreadable stored value, 3 link first
/// (nothing written: the new value has a user whose index entry does not
/// cover the new expiry), 2 saved (same user or none before), `{2, old}`
/// saved and the user changed from `old`.
pub(crate) static SAVE: LazyLock<Script> = LazyLock::new(|| {
    with_helpers(
        r"local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local v = string.match(cur, '^(%d+)[:u]')
if not v then return -1 end
if v ~= ARGV[1] then return 1 end
local old = user_of(cur)
local new = user_of(ARGV[2])
if new and ARGV[4] ~= '1' and (new ~= old or not covered(KEYS[1], ARGV[3], ARGV[5])) then
  return 3
end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
if old and old ~= new then return {2, old} end
return 2",
    )
});

/// Moves the expiry of a live key if its stored version is the expected
/// one (compare-and-swap; the value, version included, is left alone).
/// ARGV: expected version (decimal), new expiry (ms), `=<user>` when the
/// caller has already linked that user for this expiry (else empty), the
/// index grid (ms).
/// Returns 0 no key, 1 moved, 2 the version differs (nothing written),
/// -1 unreadable stored value, `{user}` link first (nothing written).
pub(crate) static TOUCH: LazyLock<Script> = LazyLock::new(|| {
    with_helpers(
        r"local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ver = string.match(v, '^(%d+)[:u]')
if not ver then return -1 end
if ver ~= ARGV[1] then return 2 end
local u = user_of(v)
if u and ARGV[3] ~= '=' .. u and not covered(KEYS[1], ARGV[2], ARGV[4]) then
  return {u}
end
return redis.call('PEXPIREAT', KEYS[1], ARGV[2])",
    )
});

/// Compare-and-delete: deletes the key if its stored version is the
/// expected one. ARGV: expected version (decimal).
/// Returns 0 no key, 2 the version differs (nothing deleted), -1
/// unreadable stored value, 1 deleted (no user), `{user}` deleted.
pub(crate) static RETIRE: LazyLock<Script> = LazyLock::new(|| {
    with_helpers(
        r"local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ver = string.match(v, '^(%d+)[:u]')
if not ver then return -1 end
if ver ~= ARGV[1] then return 2 end
redis.call('DEL', KEYS[1])
local u = user_of(v)
if u then return {u} end
return 1",
    )
});

/// Deletes the key and tells whose it was. Returns 0 no key, 1 deleted
/// (no user), `{user}` deleted.
pub(crate) static DELETE: LazyLock<Script> = LazyLock::new(|| {
    with_helpers(
        r"local v = redis.pcall('GET', KEYS[1])
if type(v) == 'table' and v.err then
  redis.call('DEL', KEYS[1])
  return 1
end
if not v then return 0 end
redis.call('DEL', KEYS[1])
local u = user_of(v)
if u then return {u} end
return 1",
    )
});

/// Adds a session to a user's index (a sorted set: member = store key,
/// score = the ms instant until which the entry must stay), never lowering
/// a score; drops entries scored at or before ARGV[3]; keeps the set's own
/// expiry at its highest score.
/// ARGV: store key, bound (ms), drop-before instant (ms).
pub(crate) static LINK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local t = redis.call('PEXPIRETIME', KEYS[1])
if t == -2 then return 0 end
if t == -1 or t < tonumber(ARGV[2]) then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return 1",
    )
});

/// A user's index entries after dropping those scored at or before ARGV[1].
/// ARGV: drop-before instant (ms). Returns the store keys.
pub(crate) static LIST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)",
    )
});

/// A login (`UserIndex::admit`): `LINK` on the user's index (KEYS[1]), then
/// the login time of the session in the user's login set (KEYS[2], a
/// sorted set on the same hash tag, so the same slot: member = store key,
/// score = login time in ms). Login times of sessions no longer in the
/// index are dropped; the login set expires no earlier than the index.
/// ARGV: store key, bound (ms), drop-before instant (ms), login time (ms).
/// Returns the login set after that, `{member, score, ...}`.
pub(crate) static ENROL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local t = redis.call('PEXPIRETIME', KEYS[1])
if t == -1 or (t >= 0 and t < tonumber(ARGV[2])) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
  t = tonumber(ARGV[2])
end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
local logins = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #logins, 2 do
  if redis.call('ZSCORE', KEYS[1], logins[i]) then
    out[#out + 1] = logins[i]
    out[#out + 1] = logins[i + 1]
  else
    redis.call('ZREM', KEYS[2], logins[i])
  end
end
if t > 0 then
  local l = redis.call('PEXPIRETIME', KEYS[2])
  if l ~= -2 and l < t then redis.call('PEXPIREAT', KEYS[2], t) end
end
return out",
    )
});
