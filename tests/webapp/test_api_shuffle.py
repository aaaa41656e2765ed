"""Issue 8.1: forms shuffle options per student by default; the delivered order hides the key; scores hold."""
from assessment.forms import build_forms, default_blueprint, update_form
from assessment.models import Answer, ItemRecord, TestWindow
from assessment.sessions import create_session
from tests.assessment.factories import correct_response, import_bank, make_class, make_window, starter_items

MATCHING_G8 = sorted(i.id for i in starter_items()
                     if i.type == "matching" and i.status == "operational" and 8 in i.grades)


def _auth(token):  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {token}"}


def _default_grade8_session(db, n_students):  # type: ignore[no-untyped-def]
    if db.query(ItemRecord).count() == 0:
        import_bank(db)
    if db.query(TestWindow).count() == 0:
        make_window(db)
    klass = make_class(db, grade=8, n_students=n_students, school="jh-t01")
    form = build_forms(db, default_blueprint(db, 8, seed=113))[0]  # the defaults, as `ctcensus forms build`
    update_form(db, form.id, item_ids=MATCHING_G8)
    test_session = create_session(db, class_id=klass.id, form_id=form.id, minutes=40)
    db.commit()
    attempts = sorted(test_session.attempts, key=lambda a: a.student.seat_number or 0)
    tickets = [a.ticket for a in attempts]
    db.commit()
    return form, tickets


def test_delivered_right_hand_order_differs_per_student_and_scoring_holds(client, db) -> None:  # type: ignore[no-untyped-def]
    form, tickets = _default_grade8_session(db, n_students=8)
    assert form.shuffle_options is True
    db.commit()
    items = {i.id: i for i in starter_items() if i.id in MATCHING_G8 and i.status != "retired"}
    orders: dict[str, set[tuple[str, ...]]] = {item_id: set() for item_id in items}
    for ticket in tickets:
        token = client.post("/api/v1/login", json={"ticket": ticket}).get_json()["token"]
        assert client.post("/api/v1/attempt/start", headers=_auth(token)).status_code == 200
        view = client.get("/api/v1/attempt", headers=_auth(token)).get_json()
        for seq, shown in enumerate(view["items"], start=1):
            right = tuple(o["id"] for o in shown["right"])
            left = [o["id"] for o in shown["left"]]
            orders[shown["id"]].add(right)
            # the "straight across" guess on what this student sees scores nothing...
            guess = {"pairs": [[lid, rid] for lid, rid in zip(left, right, strict=False)]}
            ack = client.put(f"/api/v1/attempt/answers/{shown['id']}", headers=_auth(token),
                             json={"seq": seq, "response": guess})
            assert ack.status_code == 200, ack.get_json()
        db.expire_all()
        assert {a.score for a in db.query(Answer).filter(Answer.seq < 10)} == {0}
        db.commit()  # SQLite: a read transaction holds the write lock; end it before the next request
        # ...and the keyed pairs still score full marks whatever the order shown
        for seq, shown in enumerate(view["items"], start=10):
            item = items[shown["id"]]
            ack = client.put(f"/api/v1/attempt/answers/{item.id}", headers=_auth(token),
                             json={"seq": seq, "response": correct_response(item)})
            assert ack.status_code == 200, ack.get_json()
    db.expire_all()
    assert {a.score for a in db.query(Answer)} == {2}
    assert all(len(seen) > 1 for seen in orders.values()), orders
