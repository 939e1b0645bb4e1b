"""The Fine-tune page in AppTest: the folder check, and a quick fine-tune whose result is one click from export,
and lands on the Charts page on its own dataset's axis."""

import json

from app_helpers import button, page


def test_train_page_checks_folder(at, tmp_path):
    from _imagedata import imagenet_layout

    page(at, "train")
    at.text_input(key="train_dir").set_value(str(tmp_path / "nothing")).run()
    button(at, "Check folder").click().run()
    assert at.error and "\n" not in at.error[0].value.strip()
    root = imagenet_layout(tmp_path / "ds")
    at.text_input(key="train_dir").set_value(str(root)).run()
    button(at, "Check folder").click().run()
    assert not at.error and any("4 classes" in s.value for s in at.success)


def test_quick_fine_tune_lands_on_the_chart(at, tmp_path):
    from _imagedata import imagenet_layout, tiny_design_dict

    at.file_uploader(key="upload").upload(
        "tiny.json", json.dumps(tiny_design_dict(num_classes=10)).encode(), "application/json"
    ).run()
    page(at, "train")
    root = imagenet_layout(tmp_path / "ds")
    at.text_input(key="train_dir").set_value(str(root)).run()
    button(at, "Check folder").click().run()
    at.radio(key="train_budget_kind").set_value("epochs").run()
    at.selectbox(key="train_res").set_value(96).run()
    at.number_input(key="train_batch").set_value(16).run()
    button(at, "Start fine-tuning").click().run()
    job = at.session_state["train_job"]
    assert job.wait(120), "the fine-tune did not finish"
    at.run()
    assert not at.error, [e.value for e in at.error]
    assert any(m.label == "Top-1" for m in at.metric)
    # The result in one click each: the weights and the .py of the trained network (the data's 4 classes).
    downloads = [b.proto.label for b in at.get("download_button")]
    assert downloads == ["Fine-tuned weights (.pt)", "Standalone .py (4 classes)"]
    assert any("classifier set to the data's 4 classes" in i.value for i in at.info)  # said once, by the run
    page(at, "charts")
    paper_chart = json.dumps(json.loads(at.get("plotly_chart")[0].proto.spec))
    assert "fine-tuned" not in paper_chart  # 4 classes: its accuracy never shares the paper's ImageNet100 axis
    four = "ds, 4 classes"  # the dataset's folder name and class count, from the fine-tune's record
    assert at.selectbox(key="chart_dataset").options == ["ImageNet100, 100 classes", four]
    at.selectbox(key="chart_dataset").set_value(four).run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert four in spec["layout"]["title"]["text"]
    # Not measured yet, so not drawn: the chart names it and says what would place it.
    assert (
        "fine-tuned, no latency measured yet (measure it to place it): tiny ("
        in spec["layout"]["title"]["subtitle"]["text"]
    )


def test_open_the_fine_tuned_network_on_the_design_page_with_its_weights(at, tmp_path):
    from _imagedata import imagenet_layout, tiny_design_dict

    at.file_uploader(key="upload").upload(
        "tiny.json", json.dumps(tiny_design_dict(num_classes=10)).encode(), "application/json"
    ).run()
    page(at, "train")
    at.text_input(key="train_dir").set_value(str(imagenet_layout(tmp_path / "ds"))).run()
    button(at, "Check folder").click().run()
    at.radio(key="train_budget_kind").set_value("epochs").run()
    at.selectbox(key="train_res").set_value(96).run()
    at.number_input(key="train_batch").set_value(16).run()
    button(at, "Start fine-tuning").click().run()
    assert at.session_state["train_job"].wait(120)
    at.run()
    button(at, "Open it on the Design page").click().run()
    assert not at.exception, at.exception
    assert at.session_state["design_tab"] == "Export"  # where the button leads
    (box,) = [c for c in at.checkbox if c.label == "with fine-tuned weights"]
    assert box.value and not box.disabled
    assert "Fine-tuned weights (.pt state dict)" in [b.proto.label for b in at.get("download_button")]
