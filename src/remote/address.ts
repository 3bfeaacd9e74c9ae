import { BlockList, isIP } from 'node:net';

/** A URL host without IPv6 brackets: `[::1]` -> `::1`. */
export function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Split `host[:port]` (IPv6 in brackets) into hostname and optional port. */
export function splitHostPort(hostport: string): { hostname: string; port?: number } {
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    const hostname = hostport.slice(1, end);
    const rest = hostport.slice(end + 1);
    return rest.startsWith(':') ? { hostname, port: Number(rest.slice(1)) } : { hostname };
  }
  const i = hostport.lastIndexOf(':');
  // A bare IPv6 literal has several colons and no port.
  if (i < 0 || hostport.indexOf(':') !== i) return { hostname: hostport };
  return { hostname: hostport.slice(0, i), port: Number(hostport.slice(i + 1)) };
}

function mappedV4(ip: string): string | undefined {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m?.[1];
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

// Private, loopback, link-local and unspecified ranges (Go's IsPrivate/IsLoopback/IsLinkLocal*/IsUnspecified).
const internal = new BlockList();
for (const [net, bits] of [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['127.0.0.0', 8], ['169.254.0.0', 16], ['0.0.0.0', 32]] as const) {
  internal.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [['fc00::', 7], ['fe80::', 10], ['::1', 128], ['::', 128]] as const) internal.addSubnet(net, bits, 'ipv6');

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and ::1: registries Docker reaches over plain HTTP. */
export function isLoopbackHost(hostname: string): boolean {
  const h = unbracket(hostname).toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const v4 = mappedV4(h);
  if (v4) return loopback.check(v4, 'ipv4');
  const fam = isIP(h);
  return fam === 4 ? loopback.check(h, 'ipv4') : fam === 6 ? loopback.check(h, 'ipv6') : false;
}

/**
 * True when the host names a private, loopback, link-local or unspecified address (IP literals and
 * localhost names; other names are not resolved, as in ggcr's checkRedirectSSRF).
 */
export function isInternalHost(hostname: string): boolean {
  const h = unbracket(hostname).toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const v4 = mappedV4(h);
  if (v4) return internal.check(v4, 'ipv4');
  const fam = isIP(h);
  return fam === 4 ? internal.check(h, 'ipv4') : fam === 6 ? internal.check(h, 'ipv6') : false;
}

/** Does `hostname` fall inside `cidr` (`10.0.0.0/8`, `fd00::/8`)? */
export function inCidr(hostname: string, cidr: string): boolean {
  const slash = cidr.indexOf('/');
  if (slash < 0) return false;
  const net = cidr.slice(0, slash);
  const bits = Number(cidr.slice(slash + 1));
  const fam = isIP(net);
  const h = mappedV4(unbracket(hostname)) ?? unbracket(hostname);
  if (fam === 0 || !Number.isInteger(bits) || isIP(h) !== fam) return false;
  const list = new BlockList();
  try {
    list.addSubnet(net, bits, fam === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
  return list.check(h, fam === 4 ? 'ipv4' : 'ipv6');
}
