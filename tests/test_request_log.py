"""The request log line never carries what a person typed into a search box."""

from api.middleware import loggable_query


def test_free_text_search_is_dropped_whole_from_the_logged_query():
    assert loggable_query("q=张三&status=open".encode()) == "q=[redacted]&status=open"
    assert loggable_query(b"q=%E5%BC%A0%E4%B8%89") == "q=[redacted]"


def test_other_parameters_are_decoded_then_redacted():
    assert loggable_query(b"region=511325&phone=13812345678") == "region=511325&phone=[redacted]"
    assert loggable_query(b"") is None
