#include "gateway/state/state_scripts.h"

namespace sb::gateway::scripts {

// Amounts are compared as Lua numbers (doubles): exact below 2^53 nano-dollars (about
// $9 million); above it a free amount is taken 4,096 nano-dollars lower, so rounding can only
// refuse, never over-grant. Every update goes through HINCRBY, which is exact 64-bit arithmetic.
const std::string_view kTenant = R"lua(
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now_s = tonumber(t[1])
local now_ms = now_s * 1000 + math.floor(tonumber(t[2]) / 1000)
local rid = ARGV[1]
local ttl = tonumber(ARGV[2])
local seq = tonumber(ARGV[3])
local nb = tonumber(ARGV[4])
local nr = tonumber(ARGV[5])
local window = tonumber(ARGV[6])
local keep = tonumber(ARGV[7])
local lf, xf, qf, zf = 'l:' .. rid, 'x:' .. rid, 'q:' .. rid, 'z:' .. rid
local function int(v) return string.format('%.0f', v) end
local function num(v) if v then return tonumber(v) end return 0 end
local out = {int(now_ms)}
local a = 8
for i = 1, nb do
  local k = KEYS[i]
  local limit = tonumber(ARGV[a])
  local spend = ARGV[a + 1]
  local release = tonumber(ARGV[a + 2])
  local wmin = tonumber(ARGV[a + 3])
  local wmax = tonumber(ARGV[a + 4])
  a = a + 5
  -- Leases their holders stopped renewing come back to the pool.
  local h = redis.call('HGETALL', k)
  local holders = 0
  for j = 1, #h, 2 do
    local f = h[j]
    if string.sub(f, 1, 2) == 'x:' then
      if tonumber(h[j + 1]) <= now_ms then
        local lk = 'l:' .. string.sub(f, 3)
        local l = redis.call('HGET', k, lk)
        if l and tonumber(l) > 0 then redis.call('HINCRBY', k, 'leased', '-' .. l) end
        redis.call('HDEL', k, f, lk)
      elseif string.sub(f, 3) ~= rid then
        holders = holders + 1
      end
    end
  end
  -- A report is applied once, even when a lost reply makes the replica send it again.
  if seq > num(redis.call('HGET', k, qf)) then
    redis.call('HSET', k, qf, int(seq))
    if spend ~= '0' then
      redis.call('HINCRBY', k, 'spent', spend)
    end
    local mine = num(redis.call('HGET', k, lf))
    local cut = math.min(tonumber(spend) + release, mine)
    if cut > 0 then
      redis.call('HINCRBY', k, lf, '-' .. int(cut))
      redis.call('HINCRBY', k, 'leased', '-' .. int(cut))
    end
  end
  local spent = num(redis.call('HGET', k, 'spent'))
  local leased = num(redis.call('HGET', k, 'leased'))
  local free = limit - spent - leased
  if limit >= 9007199254740992 then free = free - 4096 end
  local g = 0
  if wmax > 0 and free > 0 and free >= wmin then
    g = math.min(wmax, free)
    redis.call('HINCRBY', k, lf, int(g))
    redis.call('HINCRBY', k, 'leased', int(g))
  end
  local mine = redis.call('HGET', k, lf) or '0'
  if tonumber(mine) > 0 then
    redis.call('HSET', k, xf, int(now_ms + ttl))
    holders = holders + 1
  else
    redis.call('HDEL', k, lf, xf)
  end
  redis.call('EXPIRE', k, keep)
  out[#out + 1] = int(g)
  out[#out + 1] = mine
  out[#out + 1] = redis.call('HGET', k, 'spent') or '0'
  out[#out + 1] = redis.call('HGET', k, 'leased') or '0'
  out[#out + 1] = int(holders)
end
for i = 1, nr do
  local k = KEYS[nb + i]
  local limit = tonumber(ARGV[a])
  local rsec = ARGV[a + 1]
  local ramt = tonumber(ARGV[a + 2])
  local over = tonumber(ARGV[a + 3])
  local wmin = tonumber(ARGV[a + 4])
  local wmax = tonumber(ARGV[a + 5])
  a = a + 6
  -- Per-second counts older than the window leave it; so do sequence numbers of replicas
  -- not heard from for ten minutes.
  local h = redis.call('HGETALL', k)
  local sum = 0
  local oldest = now_s
  for j = 1, #h, 2 do
    local f = h[j]
    local s = tonumber(f)
    if s then
      if s <= now_s - window then
        redis.call('HDEL', k, f)
      else
        sum = sum + tonumber(h[j + 1])
        if s < oldest then oldest = s end
      end
    elseif string.sub(f, 1, 2) == 'z:' and tonumber(h[j + 1]) < now_s - 600 then
      redis.call('HDEL', k, f, 'q:' .. string.sub(f, 3))
    end
  end
  if seq > num(redis.call('HGET', k, qf)) then
    redis.call('HSET', k, qf, int(seq))
    if ramt > 0 and tonumber(rsec) > now_s - window then
      local r = math.min(ramt, num(redis.call('HGET', k, rsec)))
      if r > 0 then
        redis.call('HINCRBY', k, rsec, '-' .. int(r))
        sum = sum - r
      end
    end
    if over > 0 then
      redis.call('HINCRBY', k, int(now_s), int(over))
      sum = sum + over
    end
  end
  redis.call('HSET', k, zf, int(now_s))
  local free = limit - sum
  local g = 0
  if wmax > 0 and free > 0 and free >= math.max(wmin, 1) then
    g = math.min(wmax, free)
    redis.call('HINCRBY', k, int(now_s), int(g))
    sum = sum + g
  end
  redis.call('EXPIRE', k, window + 60)
  out[#out + 1] = int(g)
  out[#out + 1] = int(now_s)
  out[#out + 1] = int(sum)
  out[#out + 1] = int(oldest)
end
return out
)lua";

const std::string_view kBackend = R"lua(
local t = redis.call('TIME')
local now_s = tonumber(t[1])
local k = KEYS[1]
if ARGV[1] ~= '0' then redis.call('HINCRBY', k, 'r:' .. now_s, ARGV[1]) end
if ARGV[2] ~= '0' then redis.call('HINCRBY', k, 't:' .. now_s, ARGV[2]) end
local h = redis.call('HGETALL', k)
local r, tk = 0, 0
for j = 1, #h, 2 do
  local f = h[j]
  local s = tonumber(string.sub(f, 3))
  if s == nil or s <= now_s - 60 then
    redis.call('HDEL', k, f)
  elseif string.sub(f, 1, 2) == 'r:' then
    r = r + tonumber(h[j + 1])
  else
    tk = tk + tonumber(h[j + 1])
  end
end
redis.call('EXPIRE', k, 120)
return {string.format('%.0f', r), string.format('%.0f', tk)}
)lua";

}  // namespace sb::gateway::scripts
