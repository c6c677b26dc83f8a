# Regenerates filter-golden.json: BroadcastFilter matching exactly as kiwipy does it
# (kiwipy/filters.py: BroadcastFilter._ensure_filter and is_filtered, copied verbatim below).
#   python3 test/filter-golden.py
import json
import re
from pathlib import Path


def ensure(f):
    return re.compile(f.replace('.', '[.]').replace('*', '.*')).match


def is_filtered(subjects, senders, sender, subject):
    sf = [ensure(s) for s in subjects]
    ef = [ensure(s) for s in senders]
    if subject is not None and sf and not any(c(subject) for c in sf):
        return True
    if sender is not None and ef and not any(c(sender) for c in ef):
        return True
    return False


filters = [([], []), (['purchase.*'], []), ([], ['*.jones']), (['purchase.*'], ['*.jones']), (['a.b'], []), (['*'], []),
           (['state.*', 'purchase.*'], []), (['*.finished'], []), (['a*b'], []), (['purchase'], []), ([], ['bob']),
           (['x.*.y'], ['*']), (['a+'], []), (['a|b'], []), (['*.'], [])]
values = [None, '', 'purchase.car', 'purchase.', 'purchase', 'purchases', 'sell.car', 'a.b', 'a.bc', 'axb', 'ab', 'a.x.b',
          'state.process.1.finished', 'state.finished', 'bob.jones', 'alice.jones', 'bob.smith', 'jones', 'bob', 'bobby',
          'x.1.2.y', 'x..y', 'aaa', 'b', 'c.b', 'a.']
cases = []
for subj, send in filters:
    for v in values:
        for w in [None, 'bob.jones', 'bob.smith']:
            cases.append({'subject': subj, 'sender': send, 'msgSubject': v, 'msgSender': w,
                          'filtered': is_filtered(subj, send, w, v)})
Path(__file__).with_name('filter-golden.json').write_text(json.dumps(cases, indent=0))
print(len(cases), 'cases')
