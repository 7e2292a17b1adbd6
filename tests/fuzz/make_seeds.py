#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora of fuzz_npy, fuzz_csv and fuzz_id_list (valid files and known-bad
ones) into corpus/{npy,csv,id_list}/. Crashes found by fuzzing are added there by hand, named
crash-*, and never regenerated. A CSV seed's first byte is the harness's mode (fuzz_csv.c)."""
import io
import os
import struct

import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def npy_bytes(arr):
    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()


def raw_npy(dict_text, data=b"", major=1):
    h = dict_text.encode("latin1")
    pre = 8 + (2 if major == 1 else 4)
    h = h + b" " * ((64 - (pre + len(h) + 1) % 64) % 64) + b"\n"
    ln = struct.pack("<H", len(h)) if major == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([major, 0]) + ln + h + data


def write(sub, name, data):
    os.makedirs(os.path.join(HERE, sub), exist_ok=True)
    with open(os.path.join(HERE, sub, name), "wb") as f:
        f.write(data)


def hdr(descr, shape, fortran="False"):
    return "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


n = lambda name, data: write("npy", name, data)
n("valid_f4_2x3.npy", npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3)))
n("valid_f8_3x2.npy", npy_bytes(np.linspace(0, 1, 6).reshape(3, 2)))
n("valid_f2_2x2.npy", npy_bytes(np.array([[1, 2], [3, np.inf]], dtype="<f2")))
n("valid_u1_4x3.npy", npy_bytes(np.arange(12, dtype="u1").reshape(4, 3)))
n("valid_i8_labels.npy", npy_bytes(np.array([0, 1, 1, 2, -5], dtype="<i8")))
n("valid_u8_labels.npy", npy_bytes(np.array([0, 1, 2**63 + 1], dtype="<u8")))
n("valid_f4_labels_n1.npy", npy_bytes(np.array([[0.0], [1.0], [2.5]], dtype="<f4")))
n("valid_v2.npy", raw_npy(hdr("'<i4'", "(3,)"), struct.pack("<3i", 1, 2, 3), major=2))
n("bad_descr_nul.npy", raw_npy(hdr("'<f4\x00'", "(2, 2)"), b"\0" * 16))
n("bad_key_nul.npy", raw_npy("{'descr\x00x': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                             b"\0" * 16))
n("bad_huge_shape.npy", raw_npy(hdr("'<f4'", "(4000000000, 1000000)"), b"\0" * 16))
n("bad_overflow_shape.npy", raw_npy(hdr("'<f8'", "(18446744073709551615, 3)")))
n("bad_truncated.npy", raw_npy(hdr("'<f4'", "(10, 10)"), b"\0" * 7))
n("bad_object.npy", raw_npy(hdr("'|O'", "(2,)"), b"\0" * 16))
n("bad_bigendian.npy", raw_npy(hdr("'>f4'", "(2, 1)"), b"\0" * 8))
n("bad_fortran.npy", raw_npy(hdr("'<f4'", "(2, 2)", "True"), b"\0" * 16))
n("bad_structured.npy", raw_npy(hdr("[('a', '<f4')]", "(2,)"), b"\0" * 8))
n("bad_leading_zero.npy", raw_npy(hdr("'<f04'", "(1, 1)"), b"\0" * 4))
n("bad_len_field.npy", b"\x93NUMPY\x02\x00\xff\xff\xff\x7f{")
n("bad_magic.npy", b"PK\x03\x04rest")
n("bad_dup_key.npy", raw_npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                             "'shape': (1, 1), }", b"\0" * 4))
n("bad_float_labels.npy", npy_bytes(np.array([0.5, 1.0], dtype="<f4")))
n("valid_U_labels.npy", npy_bytes(np.array(["cat", "d\u00f6g", "\U0001F600", "x"])))
n("valid_U_bigendian.npy", npy_bytes(np.array(["ab", "c"], dtype=">U2")))
n("valid_U_n1.npy", npy_bytes(np.array([["img-0"], ["img-1"]])))
n("valid_S_ids.npy", npy_bytes(np.array([b"id-0", b"id-10", b"x"])))
n("bad_U_surrogate.npy", raw_npy(hdr("'<U2'", "(2,)"), struct.pack("<4I", 97, 0, 0xD800, 98)))
n("bad_U_past_max.npy", raw_npy(hdr("'<U1'", "(2,)"), struct.pack("<2I", 97, 0x110000)))
n("bad_U_inner_nul.npy", raw_npy(hdr("'<U3'", "(1,)"), struct.pack("<3I", 97, 0, 98)))
n("bad_U_embeddings.npy", npy_bytes(np.array([["a", "b"], ["c", "d"]])))
n("bad_S_not_utf8.npy", raw_npy(hdr("'|S2'", "(2,)"), b"ab\xff\x00"))
n("bad_U_huge_width.npy", raw_npy(hdr("'<U1073741824'", "(2,)"), b"\0" * 16))

c = lambda name, mode, text: write("csv", name, bytes([mode]) + text)
c("valid_table.csv", 0, b"id,label,a,b,c\n1,cat,0.5,1e-3,-2\n2,dog,1,2,3\n3,cat,nan,inf,-0\n")
c("valid_table_classes.csv", 8, b"label,a,b\ncat,0.5,1\ndog,1,2\nbird,3,4\n")
c("valid_quoted_multiline.csv", 0, b'id,label,a\n"1","ca\nt","0.5"\n2,"d""og",1\n')
c("valid_bom_crlf.csv", 0, b"\xef\xbb\xbfid,label,a\r\n1,cat,0.5\r\n2,dog,1\r\n")
c("valid_renamed.csv", 2, b"key,y,f1,f2\nk1,0,1,2\nk2,1,3,4\n")
c("valid_selected.csv", 4, b"label,a,b,c\nx,1,2,3\ny,4,5,6\n")
c("valid_labels_file.csv", 6, b"a,b\n1,2\n3,4\n")
c("valid_column.csv", 1, b"label\n0\n1\n2\n")
c("valid_column_int.csv", 5, b"id,label\n7,0\n8,1\n")
c("valid_column_ids.csv", 3, b"id,label\nx,0\ny,1\n")
c("bad_nul_label.csv", 0, b"id,label,a\n1,c\x00at,0.5\n2,dog,1\n")
c("bad_nul_header.csv", 0, b"id,lab\x00el,a\n1,cat,0.5\n")
c("bad_unterminated.csv", 0, b'id,label,a\n1,"cat,0.5\n2,dog,1\n')
c("bad_stray_quote.csv", 0, b'id,label,a\n1,ca"t,0.5\n')
c("bad_ragged.csv", 0, b"id,label,a\n1,cat\n2,dog,1,5\n")
c("bad_utf16.csv", 0, "label,a\n1,2\n".encode("utf-16"))
c("bad_long_field.csv", 0, b"label,a\ncat," + b"1" * 600 + b"\n")
c("bad_long_line.csv", 0, b"label,a\ncat,1" + b" " * 3000 + b"\n")
c("bad_long_label.csv", 0, b"label,a\n" + b"x" * 100 + b",1\n")
c("bad_many_columns.csv", 0, b"label," + b",".join(b"c%d" % i for i in range(80)) + b"\n")
c("bad_empty_label.csv", 0, b"label,a\n,1\n")
c("bad_dup_header.csv", 0, b"label,a,a\nx,1,2\n")
c("bad_no_rows.csv", 0, b"label,a\n")
c("bad_number.csv", 0, b"label,a\nx,1.2.3\n")
c("bad_classes_mixed.csv", 8, b"label,a\n5,1\n7,2\n")

i = lambda name, text: write("id_list", name, text)
i("valid.txt", b"# trusted\nrow-1\n  row-2  \r\n\n42\n")
i("valid_no_newline.txt", b"a\nb")
i("bad_nul.txt", b"a\nb\x00c\n")
i("bad_long_id.txt", b"a\n" + b"x" * 200 + b"\n")
i("bad_long_line.txt", b"#" + b"x" * 2000 + b"\n")
