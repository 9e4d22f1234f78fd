import io

import pytest

from lcdp.ingest.landing import DeliveryTooLarge, UnsafeFileName, land, safe_file_name


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "a/../../b.csv", "..\\..\\x.csv",
                                  "C:\\Windows\\x.csv", "ok\x00.csv", ".."])
def test_names_that_leave_the_landing_folder_are_refused(name, tmp_path):
    with pytest.raises(UnsafeFileName):
        land(io.BytesIO(b"x"), tmp_path / "landing", "kona", "transactions", "u1", name, 1000)
    assert not (tmp_path / "etc").exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_harmless_names_are_reduced_to_one_component():
    assert safe_file_name("kona tx 2024-01-01.csv") == "kona_tx_2024-01-01.csv"
    assert safe_file_name("folder/kona.csv") == "kona.csv"
    assert safe_file_name("거래내역 1월.csv") == "거래내역_1월.csv"
    assert safe_file_name("a;rm -rf.csv") == "a_rm_-rf.csv"


def test_landed_file_is_hashed_immutable_and_inside_its_upload_folder(tmp_path):
    landed = land(io.BytesIO(b"hello"), tmp_path, "kona", "transactions", "u1", "a.csv", 1000)
    assert landed.path == (tmp_path / "kona" / "transactions" / "u1" / "a.csv").resolve()
    assert landed.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert landed.size_bytes == 5
    assert oct(landed.path.stat().st_mode)[-3:] == "400"


def test_oversized_delivery_is_refused_and_leaves_nothing(tmp_path):
    with pytest.raises(DeliveryTooLarge):
        land(io.BytesIO(b"x" * 5000), tmp_path, "kona", "transactions", "u1", "a.csv", 4096)
    assert not (tmp_path / "kona" / "transactions" / "u1").exists()
