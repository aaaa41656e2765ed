"""Issue 10 item 6, the attack proof: the app under hostile input, as a bounded CI suite (`pytest tests/attack`).

One folder rather than tests/webapp/test_attack_*.py because the proof cuts across every
blueprint (api, proctor, results, overview, auth) and shares one two-school world
(`conftest.py`): school A's staff and students attack school B. Run alone it shows, in one
command with one time bound, that the whole proof holds; the OpenAPI conformance check it
builds on stays in tests/webapp/test_openapi_conformance.py.

| file | what is attacked |
|---|---|
| test_answer_payloads.py | PUT /api/v1/attempt/answers/<item> with Hypothesis-made JSON for every item type |
| test_staff_payloads.py | the proctor's extend action with Hypothesis-made JSON bodies |
| test_idor.py | a student's token against other attempts and foreign item ids; staff actions on another school |
| test_tokens.py | forged, re-signed, expired, revoked and post-submit bearer tokens; forged staff cookies |
| test_csrf.py | every state-changing staff route without a valid CSRF token (enumerated from url_map) |
| test_cross_school.py | every staff GET page with path parameters, each role of school A, ids of school B |
| test_xss.py | script in item text, roster and staff names, short answers, and every GET route's path and query |
"""
