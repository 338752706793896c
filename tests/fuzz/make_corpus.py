#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into tests/fuzz/corpus/<target>/: a handful of
small valid inputs in the layouts the targets document (see tests/fuzz/reader.h). Run once and
committed; run again after changing a layout. libFuzzer grows its own corpus from these."""
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
IQN = b"iqn.2026-11.io.maya:fuzz"


def be16(n):
    return struct.pack(">H", n)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def keys(*kvs):
    return b"".join(kv + b"\0" for kv in kvs)


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def pdu(op, flags, data=b"", rest=b""):
    """A 48-byte BHS (opcode, flags, DataSegmentLength; bytes 8..47 from `rest`) + padded data."""
    bhs = bytearray(48)
    bhs[0], bhs[1] = op, flags
    bhs[5:8] = len(data).to_bytes(3, "big")
    bhs[8 : 8 + len(rest)] = rest
    return bytes(bhs) + pad4(data)


def scsi_cmd(itt, cmdsn, cdb, edtl, read=False, write=False, data=b""):
    flags = 0x80 | (0x40 if read else 0) | (0x20 if write else 0) | 0x01
    rest = bytes(8) + struct.pack(">IIII", itt, edtl, cmdsn, 0) + cdb.ljust(16, b"\0")
    return pdu(0x01, flags, data, rest)


LOGIN_KEYS = keys(b"InitiatorName=iqn.2026-01.test:fuzz", b"TargetName=" + IQN,
                  b"SessionType=Normal", b"InitialR2T=No", b"ImmediateData=Yes",
                  b"MaxRecvDataSegmentLength=65536")
LOGIN = pdu(0x43, 0x87, LOGIN_KEYS, b"\x40" + bytes(5))
TUR = bytes(6)
INQUIRY = bytes([0x12, 0, 0, 0, 96, 0])
READ_CAP10 = bytes([0x25]) + bytes(9)
READ10 = bytes([0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0])
WRITE10 = bytes([0x2A, 0, 0, 0, 0, 8, 0, 0, 1, 0])
REPORT_LUNS = bytes([0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0])
UNMAP = bytes([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0])
UNMAP_DATA = be16(22) + be16(16) + bytes(4) + struct.pack(">QI", 8, 8) + bytes(4)


def pdu_parser():
    write("pdu_parser", "login", LOGIN)
    write("pdu_parser", "scsi_read", scsi_cmd(1, 0, READ10, 512, read=True))
    write("pdu_parser", "scsi_write_immediate", scsi_cmd(2, 0, WRITE10, 512, write=True, data=bytes(512)))
    write("pdu_parser", "nop_out", pdu(0x40, 0x80, b"", bytes(8) + struct.pack(">II", 3, 0xFFFFFFFF)))
    write("pdu_parser", "logout", pdu(0x46, 0x80, b"", bytes(8) + struct.pack(">I", 9)))


def iscsi_connection():
    # flags bit 0: the fuzzer puts its own login first; these seeds carry theirs (flags 0) or
    # rely on it (flags 1), arriving whole or byte by byte (bits 1-3).
    after_login = (scsi_cmd(1, 0, TUR, 0) + scsi_cmd(2, 1, INQUIRY, 96, read=True)
                   + scsi_cmd(3, 2, READ_CAP10, 8, read=True)
                   + scsi_cmd(4, 3, WRITE10, 512, write=True, data=bytes(range(256)) * 2)
                   + scsi_cmd(5, 4, READ10, 512, read=True))
    write("iscsi_connection", "login_then_io", b"\x00" + LOGIN + after_login)
    write("iscsi_connection", "io_after_builtin_login", b"\x01" + after_login)
    write("iscsi_connection", "io_in_small_pieces", b"\x05" + after_login)
    # WRITE of 4 blocks with 1 immediate: the rest as unsolicited Data-Out (InitialR2T=No).
    wr4 = bytes([0x2A, 0, 0, 0, 0, 16, 0, 0, 4, 0])
    data_out = pdu(0x05, 0x80, bytes(1536), bytes(8) + struct.pack(">IIIII", 6, 0xFFFFFFFF, 0, 0, 0)
                   + struct.pack(">II", 0, 512))
    write("iscsi_connection", "unsolicited_data_out",
          b"\x01" + scsi_cmd(6, 0, wr4, 2048, write=True, data=bytes(512)) + data_out)
    text = pdu(0x04, 0x80, keys(b"SendTargets=All"), bytes(8) + struct.pack(">IIII", 7, 0xFFFFFFFF, 0, 0))
    logout = pdu(0x46, 0x80, b"", bytes(8) + struct.pack(">III", 8, 0, 1))
    write("iscsi_connection", "text_and_logout", b"\x01" + text + logout)
    tmf = pdu(0x02, 0x81, b"", bytes(8) + struct.pack(">IIII", 9, 0xFFFFFFFF, 0, 0))
    write("iscsi_connection", "task_management", b"\x01" + tmf)


def iscsi_login():
    def step(bhs_flags, data, tsih=0, rest=None):
        bhs = bytearray(48)
        bhs[0], bhs[1] = 0x43, bhs_flags
        bhs[8] = 0x40
        bhs[14:16] = be16(tsih)
        return be16(len(data)) + bytes(bhs) + data
    op = keys(b"InitiatorName=iqn.2026-01.test:fuzz", b"TargetName=" + IQN,
              b"HeaderDigest=CRC32C,None", b"DataDigest=None", b"MaxBurstLength=1048576",
              b"FirstBurstLength=262144", b"MaxRecvDataSegmentLength=8192")
    write("iscsi_login", "operational_only", b"\x00" + step(0x87, op))
    sec = keys(b"InitiatorName=iqn.2026-01.test:fuzz", b"TargetName=" + IQN, b"AuthMethod=None")
    write("iscsi_login", "security_then_operational",
          b"\x00" + step(0x81, sec) + step(0x87, keys(b"ImmediateData=Yes", b"InitialR2T=No")))
    chap = keys(b"InitiatorName=iqn.2026-01.test:fuzz", b"TargetName=" + IQN, b"AuthMethod=CHAP")
    write("iscsi_login", "chap",
          b"\x01" + step(0x00, chap) + step(0x00, keys(b"CHAP_A=5"))
          + step(0x81, keys(b"CHAP_N=user", b"CHAP_R=0x" + b"00" * 16)))
    disc = keys(b"InitiatorName=iqn.2026-01.test:fuzz", b"SessionType=Discovery")
    write("iscsi_login", "discovery", b"\x00" + step(0x87, disc))


def scsi_cdb():
    def cmd(cdb, data=b"", action=0):
        return bytes([action, len(cdb)]) + cdb + be16(len(data)) + data
    write("scsi_cdb", "inquiry_and_capacity",
          b"\x00" + cmd(TUR) + cmd(INQUIRY) + cmd(bytes([0x12, 1, 0xB0, 0, 64, 0]))
          + cmd(bytes([0x9E, 0x10]) + bytes(8) + struct.pack(">I", 32) + bytes(2)))
    write("scsi_cdb", "write_read", b"\x00" + cmd(WRITE10, bytes(512)) + cmd(READ10))
    write("scsi_cdb", "unmap_thin", b"\x00" + cmd(UNMAP, UNMAP_DATA))
    ws16 = bytes([0x93, 0x08]) + struct.pack(">QI", 0, 16) + bytes(2)
    write("scsi_cdb", "write_same", b"\x00" + cmd(ws16, bytes(512)))
    caw = bytes([0x89, 0]) + struct.pack(">Q", 0) + bytes(3) + bytes([1, 0, 0])
    write("scsi_cdb", "compare_and_write", b"\x00" + cmd(caw, bytes(1024)))
    reserve = bytes([0x16, 0, 0, 0, 0, 0])
    write("scsi_cdb", "spc2_reserve_two_nexuses",
          b"\x00" + cmd(reserve) + cmd(WRITE10, bytes(512), action=1) + cmd(bytes([0x17]) + bytes(5)))
    pr_out = bytes([0x5F, 0x00, 0, 0, 0, 0, 0, 0, 24, 0])  # REGISTER
    pr_data = bytes(8) + struct.pack(">Q", 0x1234) + bytes(8)
    write("scsi_cdb", "persistent_register_reserve",
          b"\x00" + cmd(pr_out, pr_data)
          + cmd(bytes([0x5F, 0x01, 0x01, 0, 0, 0, 0, 0, 24, 0]), struct.pack(">Q", 0x1234) + bytes(16))
          + cmd(bytes([0x5E, 0x00, 0, 0, 0, 0, 0, 0x10, 0, 0])))
    write("scsi_cdb", "mode_sense_and_reset",
          b"\x00" + cmd(bytes([0x5A, 0, 0x3F, 0, 0, 0, 0, 0x10, 0, 0])) + cmd(b"", action=0xC0) + cmd(TUR))
    write("scsi_cdb", "report_opcodes", b"\x00" + cmd(bytes([0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0])))


def http_and_api():
    def http(method, target, body=b""):
        return (method + b" " + target + b" HTTP/1.1\r\nHost: maya\r\nContent-Type: application/json\r\n"
                + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    write("http_request", "activate", http(b"POST", b"/Plugin.Activate"))
    write("http_request", "create", http(b"POST", b"/VolumeDriver.Create",
                                         b'{"Name":"db","Opts":{"size":"1GiB"}}'))
    write("http_request", "mount", http(b"POST", b"/VolumeDriver.Mount", b'{"Name":"db","ID":"c1"}'))
    write("http_request", "status", http(b"GET", b"/v1/status"))
    write("http_request", "volume_create", http(b"POST", b"/v1/volumes",
                                                b'{"name":"v1","opts":{"replicas":"2"}}'))
    write("http_request", "chunked",
          b"POST /VolumeDriver.Get HTTP/1.1\r\nHost: m\r\nTransfer-Encoding: chunked\r\n\r\n"
          b"e\r\n{\"Name\":\"db\"}\r\n0\r\n\r\n")

    # api_handlers: records [route u8][name length u8][name][body length u16][body]; route
    # numbers index kRoutes in api_handlers.cpp.
    def req(route, body=b"", name=b""):
        return bytes([route, len(name)]) + name + be16(len(body)) + body
    create = req(1, b'{"Name":"db","Opts":{"size":"64MiB"}}')
    write("api_handlers", "docker_life",
          req(0) + create + req(3, b'{"Name":"db","ID":"c1"}') + req(5, b'{"Name":"db"}')
          + req(6, b'{"Name":"db"}') + req(4, b'{"Name":"db","ID":"c1"}') + req(2, b'{"Name":"db"}'))
    write("api_handlers", "docker_list", create + req(7, b"{}") + req(8, b"{}"))
    write("api_handlers", "control_volumes",
          req(9) + req(13, b'{"name":"v1","opts":{"size":"1MiB"}}') + req(12)
          + req(14, name=b"v1") + req(15, name=b"v1"))
    write("api_handlers", "control_snapshots",
          req(13, b'{"name":"v1","opts":{}}') + req(20, b'{"name":"s1"}', b"v1")
          + req(19, name=b"v1") + req(22, name=b"v1") + req(21, name=b"v1"))
    write("api_handlers", "control_replicas",
          req(13, b'{"name":"v1"}') + req(16, name=b"v1") + req(17, name=b"v1")
          + req(18, name=b"v1") + req(10) + req(11, name=b"true"))


def config_toml():
    template = os.path.join(os.path.dirname(__file__), "..", "..", "etc", "maya.conf")
    with open(template, "rb") as f:
        text = f.read().replace(b"{{host_name}}", b"h1").replace(b"{{host_id}}", b"0123456789abcdef")
        text = text.replace(b"{{root}}", b"/tmp/maya")
    write("config_toml", "default", text)
    write("config_toml", "minimal", b'[paths]\nstore = "/tmp/s"\n[volume.defaults]\nsize = "1GiB"\nreplicas = 2\n')
    write("config_toml", "iscsi", b'[iscsi]\naddress = "127.0.0.1"\ndiscovery_port = 0\ntarget_ports = "4000-4010"\n')
    write("config_toml", "bad_type", b'[volume.defaults]\nreplicas = "three"\n')


def fuse_request():
    def req(opcode, nodeid, args=b"", unique=1):
        body = args
        hdr = struct.pack("<IIQQIIII", 40 + len(body), opcode, unique, nodeid, 0, 0, 0, 0)
        r = hdr + body
        return be16(len(r)) + r
    init = struct.pack("<IIII", 7, 38, 131072, 0)  # major, minor, max_readahead, flags
    read = struct.pack("<QQIIIII", 0, 0, 4096, 0, 0, 0, 0)  # fh, offset, size, ...
    write_in = struct.pack("<QQIIQII", 0, 4096, 512, 0, 0, 0, 0) + bytes(range(256)) * 2
    fallocate = struct.pack("<QQQII", 0, 1000, 9000, 0x02 | 0x01, 0)  # punch hole, keep size
    lseek = struct.pack("<QQII", 0, 0, 3, 0)  # SEEK_DATA
    write("fuse_request", "init_lookup_getattr",
          req(26, 0, init) + req(1, 1, b"volume\0") + req(3, 2) + req(14, 2))
    write("fuse_request", "write_read", req(16, 2, write_in) + req(15, 2, read) + req(20, 2))
    write("fuse_request", "fallocate_lseek", req(43, 2, fallocate) + req(46, 2, lseek))
    write("fuse_request", "readdir_statfs", req(27, 1) + req(28, 1, read) + req(17, 1))
    write("fuse_request", "old_kernel_init", req(26, 0, init[:16]))


def jiva_json():
    write("jiva_json", "manifest", b"\x00" + b'{"name":"v1","size_bytes":1073741824,"thin":true,'
          b'"block_size":512,"iqn":"iqn.2026-11.io.maya:v1","port":3261,"created":"2026-12-01T00:00:00Z",'
          b'"replicas":[{"id":"r1","uri":"file:///opt/maya-store/v1/r1"},{"id":"r2","uri":"file:///p2/v1/r2"}],'
          b'"last_replica":2,"attach":"auto"}')
    write("jiva_json", "manifest_minimal", b"\x00" + b'{"name":"v","size_bytes":4096,"iqn":"i","port":1,'
          b'"replicas":[{"id":"r1","uri":"file:///r1"}]}')
    write("jiva_json", "chap", b"\x01" + b'{"user":"v1","secret":"abcdefghijklmnop"}')


def replica_journal():
    meta = (b'{"id":"r1","size_bytes":1048576,"generation":3,"revision":17,"clean":false,'
            b'"members":["r1","r2"],"degraded_since":2}')
    write("replica_journal", "meta_and_bitmap", be16(100) + be16(len(meta)) + meta + bytes([0xff, 1]) + bytes(14))
    write("replica_journal", "empty_bitmap", be16(64) + be16(len(meta)) + meta)
    write("replica_journal", "no_meta", be16(1) + be16(0) + bytes([1]))


def ebs_query():
    def request(mode, target, headers, body):
        return bytes([mode]) + be16(len(target)) + target + be16(len(headers)) + headers + body
    head = b"Action=CreateVolume&Version=2016-11-15"
    write("ebs_query", "create_volume", request(0, b"/", b"", head +
          b"&Size=8&AvailabilityZone=maya-1a&TagSpecification.1.ResourceType=volume"
          b"&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=db%20%C3%A9"))
    write("ebs_query", "describe_filters", request(0, b"/?Action=DescribeVolumes&Version=2016-11-15", b"",
          b"VolumeId.1=vol-0123456789abcdef0&VolumeId.2=x&Filter.1.Name=status"
          b"&Filter.1.Value.1=available&Tag.1.Key=k&Tag.1.Value=v&DryRun=true"))
    headers = (b"Content-Type: application/x-www-form-urlencoded; charset=utf-8\n"
               b"Host: 127.0.0.1:5656\nX-Amz-Date: 20261206T070000Z\n"
               b"Authorization: AWS4-HMAC-SHA256 Credential=AKIAFUZZFUZZFUZZFUZZ/20261206/maya-1/ec2/"
               b"aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + b"0" * 64)
    write("ebs_query", "signed", request(1, b"/", headers, head))
    write("ebs_query", "plain_headers", request(1, b"/", b"Content-Type: text/plain\nX-Thing:  a   b", head))


for make in (pdu_parser, iscsi_connection, iscsi_login, scsi_cdb, http_and_api, config_toml,
             fuse_request, jiva_json, replica_journal, ebs_query):
    make()
print("corpus written to", ROOT, file=sys.stderr)
