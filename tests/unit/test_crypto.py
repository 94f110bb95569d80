import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from freshforce.errors import ConfigError
from freshforce.store.crypto import TokenCipher, new_key


def cipher(*keys: str) -> TokenCipher:
    return TokenCipher([SecretStr(k) for k in keys])


def test_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = new_key(), new_key()
    stored = cipher(old).encrypt("refresh-abc")
    assert "refresh-abc" not in stored
    both = cipher(new, old)
    assert both.decrypt(stored) == "refresh-abc"
    rotated = both.rotate(stored)
    assert cipher(new).decrypt(rotated) == "refresh-abc"
    Fernet(new.encode()).decrypt(rotated.encode())  # really under the new key
    with pytest.raises(ConfigError, match="cannot be decrypted with any of encryption_keys"):
        cipher(old).decrypt(rotated)


def test_errors_and_repr_never_show_keys() -> None:
    key = new_key()
    assert key not in repr(cipher(key))
    with pytest.raises(ConfigError) as caught:
        cipher(new_key()).decrypt(cipher(key).encrypt("x"))
    assert key not in str(caught.value)
    with pytest.raises(ConfigError, match="encryption_keys is empty"):
        TokenCipher([])
