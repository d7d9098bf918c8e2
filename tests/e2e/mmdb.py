"""A MaxMind DB (https://maxmind.github.io/MaxMind-DB/) country database
written here, for tests: Debian 12 packages the reader (libmaxminddb) but no
country database (GeoLite2 needs geoipupdate and a licence key; DB-IP's lite
file is not packaged), and the tests have no network.  IPv4 only, 24-bit
records, {"country": {"iso_code": CC}} per network."""
import ipaddress
import struct
import time


def _ctrl(type_, size):
    """A control byte (and the extended type byte) for a field of size."""
    assert size < 29
    if type_ <= 7:
        return bytes([(type_ << 5) | size])
    return bytes([size, type_ - 7])


def _string(s):
    b = s.encode()
    return _ctrl(2, len(b)) + b


def _uint(type_, value, width):
    b = value.to_bytes(width, "big").lstrip(b"\0")
    return _ctrl(type_, len(b)) + b


def _map(pairs):
    out = _ctrl(7, len(pairs))
    for k, v in pairs:
        out += _string(k) + v
    return out


def _array(items):
    return _ctrl(11, len(items)) + b"".join(items)


def write(path, networks):
    """networks: [("81.0.0.0/8", "GB"), ...]."""
    data = b""
    offsets = {}
    for _, cc in networks:
        if cc not in offsets:
            offsets[cc] = len(data)
            data += _map([("country", _map([("iso_code", _string(cc))]))])
    # the trie: node = [left, right], each an int node index, ("data", cc) or None
    nodes = [[None, None]]
    for net, cc in networks:
        n = ipaddress.ip_network(net)
        bits = int(n.network_address)
        node = 0
        for depth in range(n.prefixlen):
            bit = (bits >> (31 - depth)) & 1
            if depth == n.prefixlen - 1:
                nodes[node][bit] = ("data", cc)
            else:
                if not isinstance(nodes[node][bit], int):
                    nodes.append([None, None])
                    nodes[node][bit] = len(nodes) - 1
                node = nodes[node][bit]
    count = len(nodes)

    def record(r):
        if r is None:
            return count
        if isinstance(r, int):
            return r
        return count + 16 + offsets[r[1]]

    tree = b"".join(struct.pack(">I", record(a))[1:] + struct.pack(">I", record(b))[1:]
                    for a, b in nodes)
    meta = _map([
        ("binary_format_major_version", _uint(5, 2, 2)),
        ("binary_format_minor_version", _uint(5, 0, 2)),
        ("build_epoch", _uint(9, int(time.time()), 8)),
        ("database_type", _string("omamori-test-Country")),
        ("description", _map([("en", _string("omamori test countries"))])),
        ("ip_version", _uint(5, 4, 2)),
        ("languages", _array([_string("en")])),
        ("node_count", _uint(6, count, 4)),
        ("record_size", _uint(5, 24, 2)),
    ])
    with open(path, "wb") as f:
        f.write(tree + b"\0" * 16 + data + b"\xab\xcd\xefMaxMind.com" + meta)
