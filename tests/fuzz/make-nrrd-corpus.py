"""Write the seed corpus of fuzz-nrrd (tests/fuzz/corpus-nrrd/) and its hand-made hostile
regressions (tests/fuzz/regressions/nrrd/).  Each file is the fuzz input: one form byte (see
fuzz-nrrd.c: 0 attached, 1 gzip tail added by the target, 2 detached .nhdr + in.raw,
3 attached read with NRRD_READ_REFUSE_OVERLAP), then the bytes.

    /usr/bin/python3 tests/fuzz/make-nrrd-corpus.py
"""
import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus-nrrd")
REGRESS = os.path.join(HERE, "regressions", "nrrd")

LPS = ("space: left-posterior-superior\nspace directions: (-1.5,0,0) (0,-1.5,0) (0,0,2.5)\n"
       "kinds: domain domain domain\nspace origin: (12.5,-3,40)\n")
OBLIQUE = ("space: RAS\nspace directions: (0.6,0.8,0) (-0.8,0.6,0) (0,0,1.25)\nspace origin: (-1,2,-3)\n")
SEGS = ("Segmentation_MasterRepresentation:=Binary labelmap\n"
        "Segment0_ID:=liver\nSegment0_Name:=liver\nSegment0_Color:=0.86 0.5 0.39\nSegment0_LabelValue:=1\n"
        "Segment0_Layer:=0\nSegment0_Extent:=0 3 0 2 0 1\n"
        "Segment1_ID:=spleen\nSegment1_Name:=spleen \\\\ left\\nside\nSegment1_Color:=0.6 0.4 0.6\n"
        "Segment1_LabelValue:=2\nSegment1_Layer:=0\n")


def labels(n, mod=3):
    return bytes((i * 7 + i // 5) % mod for i in range(n))


def header(typ, sizes, enc, extra="", endian=None, magic="NRRD0004"):
    h = f"{magic}\ntype: {typ}\ndimension: {len(sizes)}\nsizes: {' '.join(map(str, sizes))}\nencoding: {enc}\n"
    if endian:
        h += f"endian: {endian}\n"
    return (h + extra + "\n").encode()


def seeds():
    out = {}
    n = 4 * 3 * 2
    out["u8-raw-lps-segs"] = b"\0" + header("uint8", [4, 3, 2], "raw", LPS + SEGS) + labels(n)
    out["u8-gzip-oblique"] = b"\0" + header("unsigned char", [4, 3, 2], "gzip", OBLIQUE) + gzip.compress(labels(n))
    out["u8-gzip-tail-segs"] = b"\1" + header("uchar", [4, 3, 2], "gzip", LPS + SEGS) + labels(n)
    out["i16-big-raw"] = b"\0" + header("short", [4, 3, 2], "raw", LPS, "big") + struct.pack(
        ">24h", *[(i % 5) * 1000 - 2000 for i in range(n)])
    out["u16-little-gzip-tail"] = b"\1" + header("ushort", [4, 3, 2], "gzip", OBLIQUE, "little") + struct.pack(
        "<24H", *[(i % 4) * 20000 for i in range(n)])
    out["i32-hex"] = b"\0" + header("int", [4, 3, 2], "hex", LPS, "big") + struct.pack(
        ">24i", *[(i % 3) * 100000 for i in range(n)]).hex().encode() + b"\n"
    out["f32-ascii"] = b"\0" + header("float", [4, 3, 2], "ascii", "spacings: 1 2 nan\n") + " ".join(
        str(i % 4) for i in range(n)).encode() + b"\n"
    out["f64-raw"] = b"\0" + header("double", [2, 2, 2], "raw", "", "little") + struct.pack("<8d", *range(8))
    out["i64-gzip-tail"] = b"\1" + header("int64", [2, 2, 2], "gzip", LPS, "little") + struct.pack(
        "<8q", *[0, 1, 2, -3, 4, 5, 6, 2147483647])
    out["detached-raw"] = b"\2" + header("uint8", [4, 3, 2], "raw", LPS + "data file: in.raw\n") + labels(n)
    out["detached-skips"] = (b"\2" + header("uint8", [4, 3, 2], "raw", "data file: ./in.raw\nline skip: 1\nbyte skip: 2\n")
                             + b"skip this line\nXY" + labels(n))
    out["detached-gzip"] = b"\2" + header("uint8", [4, 3, 2], "gzip", "data file: in.raw\n") + gzip.compress(labels(n))
    out["byte-skip-end"] = b"\0" + header("uint8", [4, 3, 2], "raw", "byte skip: -1\n") + b"junk" + labels(n)
    layers = bytes(v for i in range(n) for v in ((i % 3), (1 if i % 4 == 0 else 0)))
    four = ("space: LPS\nspace directions: none (-1,0,0) (0,-1,0) (0,0,1)\nkinds: list domain domain domain\n"
            "Segment0_ID:=a\nSegment0_LabelValue:=1\nSegment0_Layer:=0\nSegment1_ID:=b\nSegment1_LabelValue:=2\n"
            "Segment1_Layer:=0\nSegment2_ID:=c\nSegment2_Name:=C\nSegment2_LabelValue:=1\nSegment2_Layer:=1\n")
    out["layers-4d"] = b"\0" + header("uint8", [2, 4, 3, 2], "raw", four) + layers
    out["layers-4d-refuse"] = b"\3" + header("uint8", [2, 4, 3, 2], "raw", four) + layers
    out["layers-4d-legacy"] = b"\1" + header("uint8", [2, 4, 3, 2], "gzip",
                                             "kinds: list domain domain domain\nSegment0_ID:=x\nSegment1_ID:=y\n") + layers
    out["nrrd0001-comments"] = b"\0" + header("uchar", [4, 3, 2], "raw", "# a comment\ncontent: test\n"
                                              "centers: cell cell cell\n", magic="NRRD0001") + labels(n)
    out["crlf"] = b"\0" + header("uint8", [4, 3, 2], "raw", LPS).replace(b"\n", b"\r\n") + labels(n)
    return out


def regressions():
    out = {}
    out["lying-sizes-raw"] = b"\0" + header("uint8", [40, 30, 20], "raw") + labels(100)
    out["lying-sizes-gzip"] = b"\0" + header("uint8", [40, 30, 20], "gzip") + gzip.compress(labels(100))
    out["gzip-bomb-dims"] = b"\0" + header("uint8", [4096, 4096, 4096], "gzip") + gzip.compress(b"\0" * 64)
    out["gzip-truncated"] = b"\0" + header("uint8", [4, 3, 2], "gzip") + gzip.compress(labels(24))[:-5]
    bad_crc = bytearray(gzip.compress(labels(24)))
    bad_crc[-8] ^= 0xFF
    out["gzip-bad-crc"] = b"\0" + header("uint8", [4, 3, 2], "gzip") + bytes(bad_crc)
    out["sizes-overflow"] = b"\0" + header("uint8", [9223372036854775807, 3, 3], "raw") + labels(8)
    out["layers-too-many"] = b"\0" + header("uint8", [100000, 2, 2, 2], "raw", "kinds: list domain domain domain\n")
    out["directions-singular"] = b"\0" + header("uint8", [2, 2, 2], "raw", "space: LPS\nspace directions: (1,1,0) "
                                                "(2,2,0) (0,0,1)\n") + labels(8)
    out["directions-nan"] = b"\0" + header("uint8", [2, 2, 2], "raw", "space: LPS\nspace directions: (nan,0,0) "
                                           "(0,1,0) (0,0,1)\nspace origin: (inf,0,0)\n") + labels(8)
    out["float-labels-nan"] = b"\0" + header("float", [2, 2, 1], "raw", "", "little") + struct.pack(
        "<4f", 0, 1, float("nan"), 2.5)
    out["u32-over-int32"] = b"\0" + header("uint", [2, 2, 1], "raw", "", "little") + struct.pack("<4I", 0, 1, 3 << 30, 2)
    out["data-file-dev-zero"] = b"\2" + header("uint8", [4, 3, 2], "raw", "data file: /dev/zero\n")
    out["data-file-list"] = b"\2" + header("uint8", [4, 3, 2], "raw", "data file: LIST\nin.raw\n")
    out["segments-huge-index"] = b"\0" + header("uint8", [2, 2, 2], "raw", "Segment99999999999_LabelValue:=5\n"
                                                "Segment2147483647_LabelValue:=2147483647\nSegment5_Layer:=-9\n"
                                                "Segment6_LabelValue:=99999999999\n") + labels(8)
    out["no-blank-line"] = b"\0" + b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n" + bytes(range(256))
    out["ascii-huge-token"] = b"\0" + header("uint8", [2, 2, 2], "ascii") + b"1" * 300 + b" 2 3 4 5 6 7 8\n"
    out["line-skip-past-end"] = b"\2" + header("uint8", [2, 2, 2], "raw", "data file: in.raw\nline skip: 1000\n") + b"a\nb\n"
    return out


def write_all(folder, files):
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(folder, name + ".bin"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write_all(CORPUS, seeds())
    write_all(REGRESS, regressions())
    print(f"{len(seeds())} seeds in {CORPUS}, {len(regressions())} regressions in {REGRESS}")
