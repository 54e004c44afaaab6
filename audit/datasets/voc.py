"""Pascal VOC folders: ``Annotations/*.xml`` next to ``JPEGImages/``.

Format
------
``path`` is the VOC folder (the one holding ``Annotations/``); a folder of XML files itself is
also accepted. Each XML file describes one image:

* ``<filename>``: the image file, resolved against ``images_root`` (default: the VOC folder's
  ``JPEGImages/``); it is the sample id.
* ``<size><width>/<height>``: used to check and clip boxes at load time (ignored when 0).
* ``<object><name>`` and ``<bndbox><xmin>..<ymax>``: VOC corners are 1-based and inclusive,
  so ``Box(xmin - 1, ymin - 1, xmax, ymax)`` (the box of the whole image is
  ``xmin=1, xmax=width`` -> ``Box(0, .., width, ..)``).

An image's label is chosen as in COCO: the object class with the largest total box area (ties:
the class listed first), keeping only that class's boxes. A file with no ``<object>`` has no
label and is skipped; an XML file that does not parse is skipped with the parser's message.
XML files are read in sorted file-name order.

Multi-label models: an image's labels are **every** object class of its file, each with its
own objects, and a file without ``<object>`` is an image without labels (see
:mod:`audit.datasets.label_sets`).

Masks
-----
When ``<VOC folder>/SegmentationObject/<id>.png`` exists for ``Annotations/<id>.xml`` (the same
file stem), it gives the objects' masks: a palette PNG whose pixel value ``i`` marks the
``i``-th ``<object>`` of the XML (counting every object, from 1), 0 the background and 255 the
boundary/void band, which belongs to no object (see :mod:`audit.datasets.masks`). The sample's
mask is the union of its kept objects' instances. Images without such a file (VOC segments only
a subset) have no mask, as do all images when the folder has no ``SegmentationObject/``.
``SegmentationClass/`` is not read. VOC gives no per-sample metadata (``Sample.meta`` is empty).
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from audit.datasets.boxes import BOX_FIELDS, BoxError, parse_number
from audit.datasets.label_sets import build_label_set_manifest
from audit.datasets.manifest import DatasetManifest, RawEntry, build_manifest
from audit.datasets.masks import PngMask
from audit.datasets.objects import AnnotatedObject, entry_from_objects
from audit.datasets.types import Box
from audit.errors import DatasetError

VOC_FIELDS = ("xmin", "ymin", "xmax", "ymax")


def voc_folders(path: str) -> tuple[str, str]:
    """The annotations folder and the VOC root folder for ``path``.

    Raises
    ------
    DatasetError
        ``path`` is not a folder, or holds neither ``Annotations/`` nor XML files.
    """
    if not os.path.exists(path):
        raise DatasetError(f"VOC dataset folder {path} does not exist")
    if not os.path.isdir(path):
        raise DatasetError(
            f"VOC dataset {path} is a file; expected the VOC folder holding Annotations/ "
            "(and JPEGImages/)"
        )
    annotations = os.path.join(path, "Annotations")
    if os.path.isdir(annotations):
        return annotations, path
    if any(name.lower().endswith(".xml") for name in os.listdir(path)):
        return path, os.path.dirname(os.path.abspath(path))
    found = ", ".join(sorted(os.listdir(path))[:10]) or "(empty folder)"
    raise DatasetError(
        f"VOC dataset folder {path} has no Annotations/ subfolder and no .xml files; "
        f"found: {found}"
    )


def _text(node: ET.Element | None, tag: str) -> str | None:
    child = None if node is None else node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        return None
    return child.text.strip()


def read_voc_entry(xml_path: str, where: str, *, segmentation: str | None = None,
                   multilabel: bool = False) -> RawEntry:
    """Parse one VOC XML file into a raw entry (never raises: problems become reasons).

    Parameters
    ----------
    xml_path : str
        The XML file.
    where : str
        Its place, for reasons (the path relative to the VOC folder).
    segmentation : str, optional
        Its ``SegmentationObject`` PNG, when there is one: object ``k`` gets
        ``PngMask(segmentation, instance=k)``.
    multilabel : bool
        A file without ``<object>`` is an image without labels, not a problem.
    """
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        return RawEntry(image="", label=None, where=where, problem=(
            f"the XML file does not parse ({exc}); the sample is skipped"))
    except OSError as exc:
        return RawEntry(image="", label=None, where=where, problem=(
            f"the XML file cannot be read ({exc}); the sample is skipped"))
    image = _text(root, "filename")
    if image is None:
        return RawEntry(image="", label=None, where=where, problem=(
            f"no <filename> element in <{root.tag}>; the image cannot be found"))
    size_node = root.find("size")
    width = parse_number(_text(size_node, "width"))
    height = parse_number(_text(size_node, "height"))
    size = (int(height), int(width)) if width and height and width > 0 and height > 0 else None
    objects: list[AnnotatedObject] = []
    for k, obj in enumerate(root.findall("object"), start=1):
        obj_where = f"{where}, object {k}"
        name = _text(obj, "name")
        if name is None:
            return RawEntry(image=image, label=None, where=where, image_size=size, problem=(
                f"object {k} has no <name>, so the image's label is unknown"))
        mask = None if segmentation is None else PngMask(segmentation, instance=k)
        try:
            objects.append(AnnotatedObject(name, _bndbox(obj.find("bndbox"), obj_where),
                                           where=obj_where, mask=mask))
        except BoxError as exc:
            objects.append(AnnotatedObject(name, box_problem=exc.reason, where=obj_where,
                                           mask=mask))
    if not objects and multilabel:
        return RawEntry(image=image, label=None, where=where, image_size=size, label_set=())
    if not objects:
        return RawEntry(image=image, label=None, where=where, image_size=size, problem=(
            "the file has no <object>, so the image has no label"))
    return entry_from_objects(objects, image=image, where=where, image_size=size)


def _bndbox(node: ET.Element | None, where: str) -> Box:
    """A VOC ``<bndbox>`` (1-based inclusive corners) as a Box; raises :class:`BoxError`."""
    if node is None:
        raise BoxError(f"{where}: the object has no <bndbox>")
    values: list[float] = []
    for tag in VOC_FIELDS:
        raw = _text(node, tag)
        number = parse_number(raw)
        if number is None:
            shown = "missing or empty" if raw is None else f"{raw!r}, not a number"
            raise BoxError(f"{where}: <bndbox><{tag}> is {shown}")
        values.append(number)
    if not all(math.isfinite(v) for v in values):
        raise BoxError(f"{where}: <bndbox> has a NaN or infinite coordinate {tuple(values)}")
    xmin, ymin, xmax, ymax = values
    for lo, hi, a, b in (("xmin", "xmax", xmin, xmax), ("ymin", "ymax", ymin, ymax)):
        if b < a:
            raise BoxError(
                f"{where}: box is inverted: <{hi}> ({b:g}) is smaller than <{lo}> ({a:g}); "
                "VOC corners are 1-based and inclusive")
    box = Box(xmin - 1.0, ymin - 1.0, xmax, ymax)
    # With inclusive corners a box with xmin == xmax is one pixel wide; zero area only happens
    # with fractional coordinates.
    for lo, hi in zip(BOX_FIELDS[:2], BOX_FIELDS[2:], strict=True):
        if getattr(box, hi) <= getattr(box, lo):
            raise BoxError(f"{where}: box has zero area ({box.as_tuple()})")
    return box


def load_voc(path: str | os.PathLike, *, images_root: str | os.PathLike | None = None,
             class_names: Sequence[str] | None = None, multilabel: bool = False
             ) -> DatasetManifest:
    """Load a Pascal VOC folder.

    Parameters
    ----------
    path : str or path-like
        The VOC folder holding ``Annotations/`` (or a folder of XML files).
    images_root : str or path-like, optional
        Folder ``<filename>`` is resolved against; defaults to ``<VOC folder>/JPEGImages``.
    class_names : sequence of str, optional
        The model's classes; ``None`` uses the sorted distinct object names.
    multilabel : bool
        Every object class of an image is one of its labels (see
        :mod:`audit.datasets.label_sets`).

    Returns
    -------
    DatasetManifest

    Raises
    ------
    DatasetError
        The folder is missing or holds no XML file, or the other run-level problems of
        :func:`audit.datasets.manifest.build_manifest`.
    """
    path = os.fspath(path)
    annotations, voc_root = voc_folders(path)
    root = os.fspath(images_root) if images_root is not None else os.path.join(
        voc_root, "JPEGImages")
    names = sorted(n for n in os.listdir(annotations) if n.lower().endswith(".xml"))
    if not names:
        raise DatasetError(f"VOC annotations folder {annotations} holds no .xml file: "
                           "the dataset is empty")
    segmentations = os.path.join(voc_root, "SegmentationObject")
    pngs = set(os.listdir(segmentations)) if os.path.isdir(segmentations) else set()
    entries = []
    for name in names:
        png = os.path.splitext(name)[0] + ".png"
        entries.append(read_voc_entry(
            os.path.join(annotations, name),
            os.path.relpath(os.path.join(annotations, name), voc_root),
            segmentation=os.path.abspath(os.path.join(segmentations, png)) if png in pngs
            else None, multilabel=multilabel))
    build = build_label_set_manifest if multilabel else build_manifest
    return build(entries, path=path, format="voc", images_root=root,
                 class_names=class_names, one_entry_per_image=True)
