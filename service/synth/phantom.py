"""One case's knee as an ordered list of strokes, from the skin inwards (later wins)."""

from __future__ import annotations

from service.synth.anatomy import Knee, above_plateau, build_knee, femoral_cartilage_zone
from service.synth.canvas import Layer, Stroke, stroke
from service.synth.lesions import acl_strokes, bone_bruise_strokes, meniscus_tear_stroke
from service.synth.params import Anatomy, CaseParams
from service.synth.primitives import Block, Capsule, Ellipsoid, Segment
from service.synth.shapes import Difference, Grown, Intersection, Shape, Union
from service.synth.tissues import Tissue

T = Tissue


def _muscle_bellies(an: Anatomy) -> list[Shape]:
    lift = an.patella_height_mm
    return [
        Ellipsoid((-30.0, 5.0, 70.0 + lift), (28.0, 36.0, 50.0)),  # vastus medialis, the lowest
        Ellipsoid((30.0, 0.0, 95.0), (28.0, 36.0, 60.0)),  # vastus lateralis
        Ellipsoid((0.0, 22.0, 115.0), (26.0, 26.0, 60.0)),  # rectus femoris, vastus intermedius
        Ellipsoid((-28.0, -30.0, 80.0), (20.0, 22.0, 62.0)),  # semimembranosus, semitendinosus
        Ellipsoid((28.0, -30.0, 82.0), (18.0, 20.0, 62.0)),  # biceps femoris
        Ellipsoid((-19.0, -40.0, -25.0), (16.0, 17.0, 50.0)),  # gastrocnemius, medial head
        Ellipsoid((18.0, -40.0, -22.0), (14.0, 15.0, 45.0)),  # gastrocnemius, lateral head
        Ellipsoid((0.0, -30.0, -110.0), (38.0, 25.0, 80.0)),  # soleus
        Ellipsoid((22.0, 10.0, -100.0), (14.0, 16.0, 75.0)),  # tibialis anterior
        Ellipsoid((0.0, -28.0, -30.0), (26.0, 7.0, 9.0)),  # popliteus
    ]


def _soft_tissue(knee: Knee, an: Anatomy) -> list[Stroke]:
    """Fat inside the skin, muscle bellies in it, fat pads, then the skin and subcutaneous fat."""
    lift = an.patella_height_mm
    fat_pads = Union(
        [
            Ellipsoid((0.0, -46.0, 14.0), (9.0, 12.0, 60.0)),  # popliteal fossa
            Ellipsoid((0.0, 22.0, 0.0), (24.0, 10.0, 14.0)),  # Hoffa's, behind the tendon
            Ellipsoid((0.0, 30.0, 55.0 + lift), (18.0, 6.0, 16.0)),  # prefemoral
        ]
    )
    vessels = Capsule(Segment((3.0, -44.0, 300.0), (0.0, -36.0, -300.0)), 3.5)
    shell = (Layer(T.SKIN, above=-1.8), Layer(T.FAT, below=-1.8, above=-an.fat_mm))
    return [
        stroke(knee.skin, T.FAT),
        *(stroke(belly, T.MUSCLE, over=(T.FAT,)) for belly in _muscle_bellies(an)),
        stroke(fat_pads, T.FAT),
        stroke(vessels, T.VESSEL),
        Stroke(knee.skin, shell),
    ]


def _recesses(an: Anatomy, effusion: float) -> Shape:
    """The suprapatellar pouch; with an effusion also the posterior recess."""
    e = effusion
    pouch = Ellipsoid(
        (0.0, 21.0, 45.0 + an.patella_height_mm), (26 + 6 * e, 1.5 + 9 * e, 16 + 12 * e)
    )
    if e == 0.0:
        return pouch
    posterior = Ellipsoid((0.0, -32.0, 14.0), (34.0, 2.0 + 6.0 * e, 16.0))
    return Union([pouch, posterior], blend=4.0)


def effusion_stroke(params: CaseParams) -> Stroke | None:
    """The recesses an effusion fills, as one stroke: where its fluid shows (None: no effusion)."""
    if params.effusion == 0.0:
        return None
    return stroke(_recesses(params.anatomy, params.effusion), T.FLUID)


def _joint_fluid(knee: Knee, an: Anatomy, effusion: float) -> list[Stroke]:
    """A thin film on the articular surfaces; an effusion thickens it and fills the recesses."""
    capsule = Grown(femoral_cartilage_zone(knee), 3.0)  # articular surfaces only
    film = an.cartilage_mm + 0.7 + 1.5 * effusion
    return [
        stroke(knee.femur, T.FLUID, below=film, within=capsule),
        stroke(knee.tibia, T.FLUID, below=film, within=above_plateau(knee, 1.5)),
        stroke(knee.patella, T.FLUID, below=4.0 + 1.5 * effusion, within=knee.patella_back),
        stroke(_recesses(an, effusion), T.FLUID),
    ]


def _tendons_and_collaterals(an: Anatomy) -> list[Stroke]:
    z = an.patella_height_mm
    patellar = Capsule(Segment((0.0, 45.0, 14.0 + z), (0.0, 24.0, -30.0)), 3.2, flatten=4.2)
    quadriceps = Capsule(Segment((0.0, 45.0, 48.0 + z), (0.0, 36.0, 120.0)), 3.5, flatten=4.5)
    wide_ap = (0.0, 1.0, 0.0)
    mcl = [
        Capsule(Segment((-40.0, -4.0, 26.0), (-41.0, -3.0, 0.0)), 1.8, 3.5, wide_ap),
        Capsule(Segment((-41.0, -3.0, 0.0), (-30.0, -1.0, -42.0)), 1.8, 3.5, wide_ap),
    ]
    lcl = [
        Capsule(Segment((37.0, -10.0, 22.0), (40.0, -14.0, 0.0)), 2.5),
        Capsule(Segment((40.0, -14.0, 0.0), (34.0, -20.0, -16.0)), 2.5),
    ]
    return [stroke(Union([patellar, quadriceps]), T.TENDON), stroke(Union(mcl + lcl), T.LIGAMENT)]


def _cartilage(knee: Knee, an: Anatomy) -> list[Stroke]:
    plateau_band = Intersection([Grown(knee.plateau, 4.0), above_plateau(knee, 0.3)])
    tibial = Difference(plateau_band, Block((-8.0, -14.0, -20.0), (8.0, 10.0, 20.0)))  # no spines
    thick = an.cartilage_mm
    return [
        stroke(knee.femur, T.CARTILAGE, below=thick, within=femoral_cartilage_zone(knee)),
        stroke(knee.tibia, T.CARTILAGE, below=thick, within=tibial),
        stroke(knee.patella, T.CARTILAGE, below=3.2, within=knee.patella_back),
    ]


def _menisci(knee: Knee, an: Anatomy) -> Stroke:
    """Both menisci, trimmed to the femoral cartilage so they fill the space under the condyles."""
    rings = Union([knee.medial_meniscus, knee.lateral_meniscus])
    return stroke(Difference(rings, Grown(knee.femur, an.cartilage_mm + 0.4)), T.MENISCUS)


def _bones(knee: Knee, an: Anatomy) -> list[Stroke]:
    layers = (Layer(T.CORTEX), Layer(T.MARROW, below=-an.cortex_mm))
    shafts = Union([knee.femoral_shaft, knee.tibial_shaft])  # thick diaphyseal cortex
    return [
        *(Stroke(bone, layers) for bone in (knee.femur, knee.tibia, knee.fibula, knee.patella)),
        stroke(shafts, T.CORTEX, below=0.0, above=-4.0),
    ]


def phantom_strokes(params: CaseParams) -> list[Stroke]:
    """Every stroke of the case's knee, in painting order."""
    an = params.anatomy
    knee = build_knee(an)
    pcl = Union([Capsule(segment, an.pcl_radius_mm) for segment in knee.pcl])
    strokes = [
        *_soft_tissue(knee, an),
        *_joint_fluid(knee, an, params.effusion),
        *_tendons_and_collaterals(an),
        *acl_strokes(knee, an.acl_radius_mm, params.acl_tear, params.acl_degeneration),
        stroke(pcl, T.LIGAMENT),
        *_cartilage(knee, an),
        _menisci(knee, an),
    ]
    if params.meniscus_tear is not None:
        strokes.append(meniscus_tear_stroke(knee, params.meniscus_tear))
    strokes.extend(_bones(knee, an))
    if params.bone_bruise is not None:
        strokes.extend(bone_bruise_strokes(params.bone_bruise))
    return strokes
