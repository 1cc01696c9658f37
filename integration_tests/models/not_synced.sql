-- A model without meta.customerio: selecting it is skipped with a note.
select 1 as id
