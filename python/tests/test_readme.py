"""The README's worker and submitter run as written (with the test broker's address)."""
import os
import re
import subprocess
import sys

README = os.path.join(os.path.dirname(__file__), '..', 'README.md')


def test_readme_worker_and_submitter(broker, tmp_path):
    with open(README, encoding='utf-8') as f:
        code = re.findall(r'```python\n(.*?)```', f.read(), re.S)[0]
    worker, submitter = (part.replace('unix:///tmp/sockets?event=broker', broker.url)
                         for part in code.split('# submitter.py'))
    (tmp_path / 'worker.py').write_text(worker)
    (tmp_path / 'submitter.py').write_text(submitter)
    w = subprocess.Popen([sys.executable, str(tmp_path / 'worker.py')])
    try:
        r = subprocess.run([sys.executable, str(tmp_path / 'submitter.py')], capture_output=True, text=True,
                           timeout=30, check=True)
        assert r.stdout.strip() == str([n * n for n in range(10)])
    finally:
        w.kill()
        w.wait()
