"""BroadcastFilter: the broker's golden cases (packages/broker/test/filter-golden.json, generated from kiwipy's
matching code and also run by the TypeScript suite, test/filter.test.ts) through kiwipy's OWN BroadcastFilter,
which is what socketkit_broker hands broadcasts to."""

import json
import os

import kiwipy
import pytest

import socketkit_broker

GOLDEN = os.path.join(os.path.dirname(__file__), '..', '..', 'packages', 'broker', 'test', 'filter-golden.json')


def load():
    with open(GOLDEN, encoding='utf-8') as f:
        return json.load(f)


def test_golden_file_is_the_shared_one_and_not_empty():
    cases = load()
    assert len(cases) > 1000
    assert {'subject', 'sender', 'msgSubject', 'msgSender', 'filtered'} <= set(cases[0])


def test_socketkit_broker_uses_kiwipys_own_filter_class():
    assert socketkit_broker.BroadcastFilter is kiwipy.BroadcastFilter


def test_kiwipys_filter_agrees_with_every_golden_case():
    wrong = []
    for case in load():
        f = kiwipy.BroadcastFilter(lambda *_: None)
        for s in case['subject']:
            f.add_subject_filter(s)
        for s in case['sender']:
            f.add_sender_filter(s)
        if f.is_filtered(case['msgSender'], case['msgSubject']) != case['filtered']:
            wrong.append(case)
    assert wrong == []


@pytest.mark.parametrize('subject,sender,msg_subject,msg_sender,called', [
    ('purchase.*', '*.jones', 'purchase.car', 'bob.jones', True),
    ('purchase.*', '*.jones', 'purchase.car', 'bob.smith', False),
    ('a.b', None, 'a.bc', None, True),
    ('a.b', None, 'axb', None, False),
    ('state.*', None, None, None, True),
])
def test_filter_called_through_the_communicator_signature(subject, sender, msg_subject, msg_sender, called):
    seen = []
    f = kiwipy.BroadcastFilter(lambda _c, body, *_: seen.append(body), subject=subject, sender=sender)
    f(None, body='b', sender=msg_sender, subject=msg_subject, correlation_id=None)
    assert seen == (['b'] if called else [])
