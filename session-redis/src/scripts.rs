//! The Lua scripts behind every store call. Each script names exactly one
//! key (a session's, or a user's index), so each runs on one node of a
//! Cluster, atomically, in one round trip (`EVALSHA`; the client loads a
//! script the server lacks and retries).
//!
//! A session value is `<version>:<payload>` (no user) or
//! `<version>u<len>:<user>:<payload>` (`len` = the user's length in bytes);
//! see [`crate::store`] for the Rust side of the encoding.

use std::sync::LazyLock;

use redis::Script;

/// Lua helpers shared by the session scripts.
///
/// `at_version(key, expected)`: the key's value if its version is
/// `expected` (decimal); else `nil` and why: `0` no key, `-1` unreadable
/// stored value, `false` the version differs (each script answers that
/// with its own code: `code or N`).
/// `user_of(v)`: the user of a session value, or `nil`.
/// `covered(key, at, grid)`: whether `at` (ms) is at or before the index
/// bound of the key's current expiry, its expiry rounded up to a multiple of
/// `grid` ms (see `INDEX_GRID`).
/// `must_link(key, user, linked, moved, at, grid)`: whether a write that
/// gives the key `user` (or `nil`) and the expiry `at` must wait for a
/// `LINK`: it has a user the caller has not linked (`linked` false) whose
/// entry is new (`moved`: the user changed) or does not cover `at`.
const HELPERS: &str = r"
local function at_version(key, expected)
  local v = redis.call('GET', key)
  if not v then return nil, 0 end
  local ver = string.match(v, '^(%d+)[:u]')
  if not ver then return nil, -1 end
  if ver ~= expected then return nil, false end
  return v
end
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
local function must_link(key, user, linked, moved, at, grid)
  if not user or linked then return false end
  return moved or not covered(key, at, grid)
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
        r"local new = user_of(ARGV[2])
local cur, code = at_version(KEYS[1], ARGV[1])
if not cur then return code or 1 end
local old = user_of(cur)
if must_link(KEYS[1], new, ARGV[4] == '1', new ~= old, ARGV[3], ARGV[5]) then return 3 end
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
        r"local v, code = at_version(KEYS[1], ARGV[1])
if not v then return code or 2 end
local u = user_of(v)
if must_link(KEYS[1], u, u and ARGV[3] == '=' .. u, false, ARGV[2], ARGV[4]) then return {u} end
return redis.call('PEXPIREAT', KEYS[1], ARGV[2])",
    )
});

/// Compare-and-delete: deletes the key if its stored version is the
/// expected one. ARGV: expected version (decimal).
/// Returns 0 no key, 2 the version differs (nothing deleted), -1
/// unreadable stored value, 1 deleted (no user), `{user}` deleted.
pub(crate) static RETIRE: LazyLock<Script> = LazyLock::new(|| {
    with_helpers(
        r"local v, code = at_version(KEYS[1], ARGV[1])
if not v then return code or 2 end
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

/// Removes a session from a user's index (after the write that made the
/// entry stale). ARGV: store key. Returns 1 removed, 0 absent. (A script,
/// not a bare `ZREM`, so every store call is one `EVALSHA`.)
pub(crate) static UNLINK: LazyLock<Script> =
    LazyLock::new(|| Script::new(r"return redis.call('ZREM', KEYS[1], ARGV[1])"));

/// A user's index entries after dropping those scored at or before ARGV[1]
/// (the admission records of [`ADMIT`], scored [`META_SCORE`], are left
/// out). ARGV: drop-before instant (ms). Returns the store keys.
pub(crate) static LIST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], '-inf', '({META_SCORE}', 'BYSCORE')"
    ))
});

/// The score of an admission record in a user's index (2^52 ms, far past
/// any session's bound, so `ZREMRANGEBYSCORE` of passed entries never drops
/// one, and exact in a Lua number).
pub(crate) const META_SCORE: i64 = 4_503_599_627_370_496;

/// Lua helpers of the admission scripts, on the user's index (KEYS[1]).
///
/// An entry of the index is its store key (score: its bound). A session
/// admitted under a cap also has an admission record, a member of the same
/// sorted set scored [`META_SCORE`]:
/// `<store key>:<login ms>:<state>:<lease ms>:<nonce>` (store keys have no
/// `:`), where state is `p` (pending: the login's record may not be written
/// yet; it counts as live until the lease, a Redis `TIME` in ms, passes),
/// `c` (confirmed), `a` (aborted: the login's write failed) or `r`
/// (revoked: chosen as a victim; a pending login in this state never
/// confirms). An entry's token is its admission record, or `''` without one.
///
/// `admission(key)`: the admission record of `key`, or `nil`.
/// `parse(m)`: login ms, state, lease ms and nonce of an admission record.
const ADMISSION_HELPERS: &str = r"
local function admission(key)
  local prefix = key .. ':'
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], META, META)) do
    if string.sub(m, 1, #prefix) == prefix then return m end
  end
  return nil
end
local function parse(m)
  local login, state, lease, nonce = string.match(m, '^[^:]+:(%-?%d+):(%a):(%d+):(.*)$')
  return tonumber(login), state, tonumber(lease), nonce
end
";

/// The decision of a login under a cap (`UserIndex::admit`), atomic on the
/// user's index: counts the user's other live sessions, refuses the login
/// or picks the victims, marks the victims revoked and lists the new
/// session as pending, in one script.
///
/// ARGV: [1] the new store key, [2] its bound (ms), [3] drop-before
/// instant (ms), [4] login time (ms), [5] the cap's max, [6] `refuse` or
/// `revoke`, [7] the lease of a pending entry (ms), [8] the login's nonce,
/// [9] `1` when the caller sends liveness reports (else `0`), then pairs
/// of (store key, token) the caller found not live (no record, or not this
/// user's) after reading the entry with that token.
///
/// Counting: an entry pending within its lease counts as live; an entry
/// reported not live at its current token does not count (a pending one
/// is then marked revoked, so its login can no longer confirm); every
/// other entry counts (unknown liveness counts as live). Without reports,
/// when refusing or revoking would depend on an entry of unknown liveness,
/// nothing is decided or written: the script answers the roster so the
/// caller can load the sessions and ask again.
///
/// Returns `{0}` the new key is revoked (gone), `{1, live}` refused
/// (nothing written), `{2, victim...}` admitted as pending with these
/// victims (marked revoked; the caller deletes them), `{3, key, token,
/// ...}` reports needed (nothing decided).
pub(crate) static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "local META = {META_SCORE}\n{ADMISSION_HELPERS}{}",
        r"local ukey = KEYS[1]
local me = ARGV[1]
redis.call('ZREMRANGEBYSCORE', ukey, '-inf', ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('ZRANGE', ukey, 0, -1, 'WITHSCORES')
local plain, score, meta = {}, {}, {}
for i = 1, #all, 2 do
  local m = all[i]
  local k = string.match(m, '^([^:]+):')
  if k then meta[k] = m else plain[#plain + 1] = m; score[m] = tonumber(all[i + 1]) end
end
for k, m in pairs(meta) do
  if not score[k] then redis.call('ZREM', ukey, m); meta[k] = nil end
end
local mine = meta[me]
if mine then
  local _, state = parse(mine)
  if state == 'r' then return {0} end
end
local reported = ARGV[9] == '1'
local dead = {}
for i = 10, #ARGV, 2 do dead[ARGV[i]] = ARGV[i + 1] end
local live, uncertain = {}, 0
for _, k in ipairs(plain) do
  if k ~= me then
    local m = meta[k]
    local login, state, lease = -1, '', 0
    if m then login, state, lease = parse(m) end
    if state == 'p' and now < lease then
      live[#live + 1] = {k, 1, login, score[k]}
    elseif reported and dead[k] == (m or '') then
      if state == 'p' then
        redis.call('ZREM', ukey, m)
        redis.call('ZADD', ukey, META, k .. ':' .. string.format('%d', login) .. ':r:0:')
      end
    else
      local rank = 1
      if state == 'r' then rank = 0 end
      live[#live + 1] = {k, rank, login, score[k]}
      uncertain = uncertain + 1
    end
  end
end
local max = math.max(1, tonumber(ARGV[5]))
local refuse = ARGV[6] == 'refuse'
local excess = #live + 1 - max
if (refuse and #live >= max) or (not refuse and excess > 0) then
  if not reported and uncertain > 0 then
    local out = {3}
    for _, k in ipairs(plain) do
      if k ~= me then
        out[#out + 1] = k
        out[#out + 1] = meta[k] or ''
      end
    end
    return out
  end
  if refuse then return {1, #live} end
end
local out = {2}
if not refuse and excess > 0 then
  table.sort(live, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    if a[3] ~= b[3] then return a[3] < b[3] end
    if a[4] ~= b[4] then return a[4] < b[4] end
    return a[1] < b[1]
  end)
  for i = 1, excess do
    local k = live[i][1]
    if meta[k] then redis.call('ZREM', ukey, meta[k]) end
    redis.call('ZADD', ukey, META, k .. ':' .. string.format('%d', live[i][3]) .. ':r:0:')
    out[#out + 1] = k
  end
end
redis.call('ZADD', ukey, 'GT', ARGV[2], me)
if mine then redis.call('ZREM', ukey, mine) end
redis.call('ZADD', ukey, META, me .. ':' .. ARGV[4] .. ':p:' .. string.format('%d', now + tonumber(ARGV[7])) .. ':' .. ARGV[8])
local e = redis.call('PEXPIRETIME', ukey)
if e == -1 or e < tonumber(ARGV[2]) then redis.call('PEXPIREAT', ukey, ARGV[2]) end
return out"
    ))
});

/// The end of an admitted login, after its record is written: a pending
/// admission with this nonce becomes confirmed. ARGV: store key, nonce.
/// Returns 1 the login stands (confirmed now, or the entry is another
/// request's admission of the same key), 0 the entry was revoked or is
/// gone (the caller deletes the record it wrote).
pub(crate) static CONFIRM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "local META = {META_SCORE}\n{ADMISSION_HELPERS}{}",
        r"if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local m = admission(ARGV[1])
if not m then return 0 end
local login, state, _, nonce = parse(m)
if state == 'r' then return 0 end
if state == 'p' and nonce == ARGV[2] then
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZADD', KEYS[1], META, ARGV[1] .. ':' .. string.format('%d', login) .. ':c:0:' .. nonce)
end
return 1"
    ))
});

/// The end of a login whose write failed (collision, conflict, gone): a
/// pending admission with this nonce becomes aborted, so it no longer
/// counts as live by its lease (the entry stays: liveness by loading).
/// ARGV: store key, nonce. Returns 1 aborted, 0 nothing to do.
pub(crate) static ABORT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "local META = {META_SCORE}\n{ADMISSION_HELPERS}{}",
        r"local m = admission(ARGV[1])
if not m then return 0 end
local login, state, _, nonce = parse(m)
if state ~= 'p' or nonce ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], m)
redis.call('ZADD', KEYS[1], META, ARGV[1] .. ':' .. string.format('%d', login) .. ':a:0:' .. nonce)
return 1"
    ))
});
