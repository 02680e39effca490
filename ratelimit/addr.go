package ratelimit

import "net/netip"

// AddrKey returns the client-address part of a key for ip: an IPv4 address (also when
// written as an IPv4-mapped IPv6 address) as itself, an IPv6 address as its /64 prefix
// ("2001:db8:1:2::/64"), because one IPv6 subscriber or host usually holds a whole /64 and
// could otherwise evade per-address limits by switching addresses. An invalid ip yields
// "unknown": such clients share one address's limits.
func AddrKey(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	switch {
	case !ip.IsValid():
		return "unknown"
	case ip.Is4():
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}
