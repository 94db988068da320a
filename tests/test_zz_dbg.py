from tests.test_panel import *
def test_dbg(panel):
    generate(panel, "a fox", n=2)
    generate(panel, "a cat", size="512x512")
    panel.wait(20)
    panel._tabs.selected_index = 1
    images = [w for w in walk(panel) if isinstance(w, widgets.Image) and w.value]
    print([ (w.model_id, len(w.value)) for w in images])
    print([(s.record.id, [i.model_id for i in s.images]) for s in panel.slots])
    print({k: [i.model_id for i in v] for k, v in panel._store._images.items()})
    print([r.images for r in panel._session.history.records])
