def test_seaweed_roundtrip(seaweed_client):
    seaweed_client.upload_bytes(b"abc", "k")
    assert seaweed_client.download_bytes("k") == b"abc"


def test_moto_roundtrip(moto_client):
    moto_client.upload_bytes(b"abc", "k")
    assert moto_client.download_bytes("k") == b"abc"


def test_moto_server_roundtrip(moto_server_client):
    moto_server_client.upload_bytes(b"abc", "k", storage_class="GLACIER")
    assert moto_server_client.get_metadata("k").storage_class == "GLACIER"
