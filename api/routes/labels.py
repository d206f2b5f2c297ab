"""The label lists a helpdesk maps its own fields to."""

from fastapi import APIRouter

from api.auth import requires
from api.deps import LabelsDep
from api.schemas import LabelFieldOut, LabelsOut, LabelValueOut

router = APIRouter(tags=["labels"], dependencies=[requires("read")])


@router.get("/labels", response_model=LabelsOut, summary="Label lists with Japanese names")
def list_labels(labels: LabelsDep) -> LabelsOut:
    return LabelsOut(
        version=labels.version,
        fingerprint=labels.fingerprint,
        fields=[
            LabelFieldOut(
                field=name,
                display_name=label_field.display_name,
                values=[
                    LabelValueOut(value=value, **details.model_dump())
                    for value, details in label_field.values.items()
                ],
            )
            for name, label_field in labels.fields.items()
        ],
    )
