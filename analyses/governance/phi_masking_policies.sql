{#-
    The Redshift dynamic-data-masking DDL and grants generated from the PHI tags in the marts' yml.
    Compiled for the redshift target (python -m patient360.redshift_check parses and checks it); the marts'
    post-hook runs the same statements after each build.
-#}
{{ phi_governance_ddl_for_project() }}
