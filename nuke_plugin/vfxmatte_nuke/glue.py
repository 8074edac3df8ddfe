"""The only code that touches the real ``nuke`` module (not run by the tests: see docs/addons.md)."""

import nuke

from . import logic
from .host import InputInfo


class NukeApiHost:
    def knob(self, node, name):
        return node[name].value() if name in node.knobs() else None

    def inputs(self, node):
        out = []
        for i in range(node.inputs()):
            n = node.input(i)
            if n is not None:
                out.append(InputInfo(i, n.name(), n.Class(), n["label"].value()))
        return out

    def root_range(self):
        return int(nuke.root()["first_frame"].value()), int(nuke.root()["last_frame"].value())

    def render(self, node, spec):
        with node.parent() or nuke.root():
            w = nuke.nodes.Write(
                file=spec.path.replace("\\", "/"),
                file_type="exr",
                channels=spec.channels,
                datatype=spec.datatype,
            )
            w.setInput(0, node.input(spec.index))
            try:
                nuke.execute(w, spec.first, spec.last)
            finally:
                nuke.delete(w)

    def create_nodes(self, node, specs):
        made = []
        for k, spec in enumerate(specs):
            n = getattr(nuke.nodes, spec.node_class)(label=spec.label)
            for key, value in spec.knobs.items():
                n[key].setValue(value)
            if spec.input_from is not None:
                n.setInput(0, made[spec.input_from])
            n.setXYpos(node.xpos() + 120 * max(k - 1, 0), node.ypos() + (80 if k == 0 else 160))
            made.append(n)
        return made

    def progress(self, title):
        return _Task(title)

    def message(self, text):
        nuke.message(text)


class _Task:
    def __init__(self, title):
        self.task = nuke.ProgressTask(title)

    def set(self, percent, message):
        self.task.setProgress(percent)
        self.task.setMessage(message)

    def cancelled(self):
        return self.task.isCancelled()

    def close(self):
        del self.task


def create_node():
    """Menu command: a VfxMatte Group with a plate input, four person inputs and the knobs."""
    group = nuke.nodes.Group(name="VfxMatte")
    with group:
        for name in ["plate", "person1", "person2", "person3", "person4"]:
            nuke.nodes.Input(name=name)
        nuke.nodes.Output().setInput(0, nuke.toNode("plate"))
    group.addKnob(nuke.Tab_Knob("vfxmatte", "VfxMatte"))
    makers = {
        "enum": nuke.Enumeration_Knob,
        "int": nuke.Int_Knob,
        "string": nuke.String_Knob,
        "file": nuke.File_Knob,
    }
    for name, kind, label, default in logic.KNOBS:
        if kind == "enum":
            group.addKnob(makers[kind](name, label, list(default)))
        else:
            group.addKnob(makers[kind](name, label))
            group[name].setValue(default)
    group.addKnob(
        nuke.PyScript_Knob(
            "matte", "Matte", "import vfxmatte_nuke.glue as g; g.run(nuke.thisNode())"
        )
    )
    return group


def run(node):
    return logic.run(NukeApiHost(), node)
