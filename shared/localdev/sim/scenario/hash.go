package scenario

import (
	"encoding/binary"
	"hash/fnv"

	"github.com/google/uuid"
)

// Everything in a world derives from hashes of (seed, tenant, object index, ...), never from
// shared random state, so any object can be produced on demand, in any order, from any goroutine.

// Hash stream tags keep the values drawn for different purposes independent.
const (
	tagTenant uint64 = iota + 1
	tagTenantID
	tagUser
	tagUserID
	tagGroup
	tagGroupID
	tagDevice
	tagDeviceID
	tagGuest
	tagAdmin
	tagMember
	tagNames
	tagStep
	tagRelationship
	tagSecurityGroup
)

// mix is the splitmix64 finaliser: a cheap, well-distributed 64-bit bijection.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// hash combines its parts in order.
func hash(parts ...uint64) uint64 {
	x := uint64(0x243f6a8885a308d3)
	for _, p := range parts {
		x = mix(x ^ p)
	}
	return x
}

// hashString folds a string into 64 bits (FNV-1a), for keys such as tenant ids.
func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// rng is a splitmix64 stream: a value on the stack, seeded from a hash, so generating one object
// draws a fixed sequence independent of every other object.
type rng uint64

func newRNG(parts ...uint64) rng { return rng(hash(parts...)) }

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0, n); n <= 0 gives 0.
func (r *rng) intn(n int) int {
	if n <= 0 {
		return 0
	}
	return int(r.next() % uint64(n))
}

// between returns a value in [lo, hi].
func (r *rng) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.intn(hi-lo+1)
}

// float returns a value in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// chance is true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// frac maps a hash to [0, 1).
func frac(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// pick returns one element of list.
func pick[T any](r *rng, list []T) T { return list[r.intn(len(list))] }

// Object ids must be found again from the id alone (GET /users/{id}) without an index of every
// object, so the first four bytes of an object GUID are an invertible permutation of the object
// index keyed per tenant and kind; the remaining bytes are a hash that makes the id look random
// and is checked on lookup.

// permute32 is a bijection on uint32 (xorshift-multiply rounds; every step is invertible).
func permute32(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 16
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}

var (
	inv7feb352d = modInverse32(0x7feb352d)
	inv846ca68b = modInverse32(0x846ca68b)
)

// unpermute32 inverts permute32. x ^= x>>16 is its own inverse on 32 bits.
func unpermute32(x uint32) uint32 {
	x ^= x >> 16
	x *= inv846ca68b
	x ^= x >> 16
	x *= inv7feb352d
	x ^= x >> 16
	return x
}

// modInverse32 is the multiplicative inverse of an odd a modulo 2^32 (Newton's iteration; each
// round doubles the correct low bits).
func modInverse32(a uint32) uint32 {
	x := a
	for range 5 {
		x *= 2 - a*x
	}
	return x
}

// objectUUID is the GUID of object index in the id space key (tenant and kind).
func objectUUID(key uint64, index int) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint32(u[0:4], permute32(uint32(index)^uint32(key)))
	h := hash(key, uint64(index))
	binary.BigEndian.PutUint64(u[4:12], h)
	binary.BigEndian.PutUint32(u[12:16], uint32(mix(h)>>32))
	u[6] = (u[6] & 0x0f) | 0x40 // version 4, like Entra's random object ids
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u
}

// objectIndex recovers the index from an id made by objectUUID with key, or -1.
func objectIndex(key uint64, id string) int {
	u, err := uuid.Parse(id)
	if err != nil {
		return -1
	}
	i := int(unpermute32(binary.BigEndian.Uint32(u[0:4])) ^ uint32(key))
	if i < 0 || objectUUID(key, i) != u {
		return -1
	}
	return i
}

// guidFrom makes a GUID from hashed parts (ids that never need reverse lookup).
func guidFrom(parts ...uint64) string {
	var u uuid.UUID
	h := hash(parts...)
	binary.BigEndian.PutUint64(u[0:8], h)
	binary.BigEndian.PutUint64(u[8:16], mix(h))
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return u.String()
}
