"""Turns pytest's --junitxml into the .jest-results.json that scripts/test-all.mjs totals (jest's JSON shape)."""
import json
import sys
import xml.etree.ElementTree as ET

HERE = __file__.rsplit('/', 2)[0]


def write(path, results):
    passed = sum(1 for r in results if r['status'] == 'passed')
    failed = sum(1 for r in results if r['status'] == 'failed')
    pending = sum(1 for r in results if r['status'] == 'pending')
    suites = {}
    for r in results:
        suites.setdefault(r['ancestorTitles'][0], []).append(r)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump({
            'numPassedTests': passed, 'numFailedTests': failed, 'numPendingTests': pending, 'numTodoTests': 0,
            'numTotalTests': len(results), 'numRuntimeErrorTestSuites': 0, 'success': failed == 0,
            'testResults': [{'name': name, 'status': 'failed' if any(a['status'] == 'failed' for a in rs) else 'passed',
                             'assertionResults': rs} for name, rs in suites.items()],
        }, f, indent=2)


def main():
    if sys.argv[1] == '--setup-failed':
        write(f'{HERE}/.jest-results.json', [{
            'ancestorTitles': ['python setup'], 'title': 'python/.venv could be created', 'fullName': 'python setup',
            'status': 'failed', 'failureMessages': ['scripts/venv.sh failed: see its output']}])
        return
    root = ET.parse(sys.argv[1]).getroot()
    results = []
    for case in root.iter('testcase'):
        suite = case.get('classname', 'python')
        title = case.get('name', '?')
        skipped = case.find('skipped')
        bad = case.find('failure') if case.find('failure') is not None else case.find('error')
        status = 'failed' if bad is not None else 'pending' if skipped is not None else 'passed'
        if status == 'pending' and '[skipped:' not in title:
            title += f" [skipped: {skipped.get('message', 'no reason given')}]"
        results.append({'ancestorTitles': [suite], 'title': title, 'fullName': f'{suite} {title}', 'status': status,
                        'failureMessages': [] if bad is None else [(bad.get('message') or '') + '\n' + (bad.text or '')]})
    write(sys.argv[2], results)


if __name__ == '__main__':
    main()
